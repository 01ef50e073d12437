/// The larger of two errors, where a NaN wins: `max` would drop it (`max(0, .nan)` is 0 in Swift),
/// and a test fed a NaN output would pass. Feed every error of a comparison through this and
/// check the result with `worst <= bound` (false for NaN), never `!(worst > bound)`.
public func largerError(_ a: Double, _ b: Double) -> Double {
    a.isNaN || b.isNaN ? .nan : (a > b ? a : b)
}

/// The largest of `errors`, NaN if any is NaN; 0 for none.
public func worstError<S: Sequence>(_ errors: S) -> Double where S.Element == Double {
    errors.reduce(0, largerError)
}
