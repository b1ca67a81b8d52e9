extension Duration {
    /// The duration in seconds, as a Double (wall-clock timings in reports and metadata).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
