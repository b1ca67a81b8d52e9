import SimfluenceCore

/// The shape and parameter layout of a small decoder-only transformer over characters (GPT-2
/// style, pre-LayerNorm), with forward and backward passes written by hand.
///
/// A sequence of n tokens (the begin token, then the text's characters) is embedded as
/// `x[t] = E[token t] + P[t]` (token embedding E, learned position embedding P), passed through
/// ``layers`` blocks
///
///     x = x + Attention(LayerNorm1(x))       causal multi-head self-attention, ``heads`` heads
///     x = x + W2 ReLU(W1 LayerNorm2(x) + b1) + b2
///
/// and a final LayerNorm; the logits of the next character at every position are
/// `LayerNorm_f(x) E^T + b_out`: the output layer is *tied* to the token embedding (one matrix
/// for input and output, as in GPT-2), plus an output bias. The loss of a sequence is the mean,
/// over its n positions, of the cross-entropy (natural log, nats) of the next token. Attention
/// scales scores by `1 / sqrt(headWidth)`; LayerNorm uses the biased variance and epsilon 1e-5.
///
/// Parameters live in one flat array of ``parameterCount`` values, matrices row-major with the
/// input dimension first (`y = x W + b`, `W` is inputs x outputs):
/// - token embedding `E`, ``vocabularySize`` x ``width``, at ``tokenEmbeddingOffset``
/// - position embedding `P`, ``context`` x ``width``, at ``positionEmbeddingOffset``
/// - for each layer l at ``layerOffset(_:)`` (``layerParameterCount`` values): LayerNorm 1 gain
///   and bias (width each); attention input weights `W_qkv` (width x 3 width: columns
///   `0..<width` are the queries, then keys, then values; head h uses columns
///   `h * headWidth ..< (h + 1) * headWidth` of each) and bias (3 width); attention output
///   weights (width x width) and bias; LayerNorm 2 gain and bias; `W1` (width x ``mlpWidth``)
///   and `b1`; `W2` (``mlpWidth`` x width) and `b2`. Offsets within a layer: ``LayerOffsets``.
/// - final LayerNorm gain and bias (width each) at ``finalGainOffset``, ``finalBiasOffset``
/// - output bias (``vocabularySize``) at ``outputBiasOffset``
public struct Transformer: Sendable, Equatable {
    /// Tokens (characters plus the begin token).
    public let vocabularySize: Int
    /// Longest sequence (tokens, including the begin token) the position embedding covers.
    public let context: Int
    /// Width of the residual stream (the model dimension).
    public let width: Int
    /// Attention heads per layer; ``width`` is a multiple of it.
    public let heads: Int
    /// Transformer blocks.
    public let layers: Int
    /// Hidden units of each block's MLP.
    public let mlpWidth: Int

    /// A transformer of the given sizes (throws ``SimfluenceError/invalidArgument(_:)`` if one is
    /// out of range: all positive, width a multiple of heads, vocabulary at least 2).
    public init(vocabularySize: Int, context: Int, width: Int, heads: Int, layers: Int, mlpWidth: Int) throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw SimfluenceError.invalidArgument(message()) }
        }
        try check(vocabularySize >= 2, "the vocabulary needs at least 2 tokens, got \(vocabularySize)")
        try check(context >= 1 && context <= 4096, "context must be in 1...4096 tokens, got \(context)")
        try check(width >= 1 && width <= 4096, "width must be in 1...4096, got \(width)")
        try check(heads >= 1 && width % heads == 0, "heads must divide the width (\(width)), got \(heads)")
        try check(layers >= 1 && layers <= 64, "layers must be in 1...64, got \(layers)")
        try check(mlpWidth >= 1 && mlpWidth <= 16384, "MLP width must be in 1...16384, got \(mlpWidth)")
        self.vocabularySize = vocabularySize
        self.context = context
        self.width = width
        self.heads = heads
        self.layers = layers
        self.mlpWidth = mlpWidth
    }

    /// Width of one attention head.
    public var headWidth: Int { width / heads }

    /// Offsets of a block's parameters from ``layerOffset(_:)``, in layout order (d = width,
    /// f = mlpWidth; matrices row-major, inputs x outputs).
    public struct LayerOffsets: Sendable, Equatable {
        /// LayerNorm 1 (before attention) gain and bias, d values each.
        public let norm1Gain, norm1Bias: Int
        /// Attention input weights `W_qkv` (d x 3d: queries, keys, values) and their bias (3d).
        public let qkvWeight, qkvBias: Int
        /// Attention output weights (d x d) and bias (d).
        public let outWeight, outBias: Int
        /// LayerNorm 2 (before the MLP) gain and bias, d values each.
        public let norm2Gain, norm2Bias: Int
        /// MLP input weights `W1` (d x f) and bias `b1` (f).
        public let upWeight, upBias: Int
        /// MLP output weights `W2` (f x d) and bias `b2` (d).
        public let downWeight, downBias: Int
        /// Parameters of one block.
        public let count: Int

        init(width d: Int, mlpWidth f: Int) {
            norm1Gain = 0
            norm1Bias = d
            qkvWeight = 2 * d
            qkvBias = qkvWeight + 3 * d * d
            outWeight = qkvBias + 3 * d
            outBias = outWeight + d * d
            norm2Gain = outBias + d
            norm2Bias = norm2Gain + d
            upWeight = norm2Bias + d
            upBias = upWeight + d * f
            downWeight = upBias + f
            downBias = downWeight + f * d
            count = downBias + d
        }
    }

    /// Offsets within every block.
    public var layerOffsets: LayerOffsets { LayerOffsets(width: width, mlpWidth: mlpWidth) }
    /// Where the token embedding E (vocabularySize x width; also the tied output layer) starts.
    public var tokenEmbeddingOffset: Int { 0 }
    /// Where the position embedding P (context x width) starts.
    public var positionEmbeddingOffset: Int { vocabularySize * width }
    /// Parameters of one block.
    public var layerParameterCount: Int { layerOffsets.count }
    /// Where block `layer` (0-based) starts.
    public func layerOffset(_ layer: Int) -> Int { positionEmbeddingOffset + context * width + layer * layerParameterCount }
    /// Where the final LayerNorm's gain (width values) starts.
    public var finalGainOffset: Int { layerOffset(layers) }
    /// Where the final LayerNorm's bias (width values) starts.
    public var finalBiasOffset: Int { finalGainOffset + width }
    /// Where the output bias (vocabularySize values, added to the logits) starts.
    public var outputBiasOffset: Int { finalBiasOffset + width }
    /// Total number of parameters.
    public var parameterCount: Int { outputBiasOffset + vocabularySize }

    /// Standard deviation of the initial weights (GPT-2's 0.02); the two matrices that write into
    /// the residual stream (attention output, `W2`) are scaled by `1 / sqrt(2 layers)` more.
    public static let initialScale = 0.02

    /// Seeded initialisation: embeddings and weight matrices N(0, ``initialScale``^2) (residual
    /// writers smaller, see ``initialScale``), biases 0, LayerNorm gains 1. Values are drawn in
    /// layout order from ``SeededGenerator``(seed: `seed`).
    public func initialParameters<S: ModelScalar>(seed: UInt64, as: S.Type = Float.self) -> [S] {
        var rng = SeededGenerator(seed: seed)
        var p = [S](repeating: 0, count: parameterCount)
        func fill(_ offset: Int, _ count: Int, _ scale: Double) {
            for k in offset..<(offset + count) { p[k] = S(rng.nextGaussian() * scale) }
        }
        func ones(_ offset: Int) { for k in offset..<(offset + width) { p[k] = 1 } }
        let s = Self.initialScale, residual = Self.initialScale / Double(2 * layers).squareRoot()
        let d = width, o = layerOffsets
        fill(tokenEmbeddingOffset, vocabularySize * d, s)
        fill(positionEmbeddingOffset, context * d, s)
        for l in 0..<layers {
            let base = layerOffset(l)
            ones(base + o.norm1Gain)
            fill(base + o.qkvWeight, 3 * d * d, s)
            fill(base + o.outWeight, d * d, residual)
            ones(base + o.norm2Gain)
            fill(base + o.upWeight, d * mlpWidth, s)
            fill(base + o.downWeight, mlpWidth * d, residual)
        }
        ones(finalGainOffset)
        return p
    }

    /// The model in a log's metadata, e.g. `transformer-L2-d64-h4-mlp256-ctx96-v45-tied-relu-prenorm`.
    public var descriptor: String {
        "transformer-L\(layers)-d\(width)-h\(heads)-mlp\(mlpWidth)-ctx\(context)-v\(vocabularySize)-tied-relu-prenorm"
    }
}
