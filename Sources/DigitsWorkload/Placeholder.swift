public enum DigitsWorkloadPlaceholder {}
