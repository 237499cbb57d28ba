extension Duration {
    /// The duration in seconds, as a `Double` (for rates, trust windows and reports).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
