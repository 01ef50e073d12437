import Testing

/// The golden and gradient tests compare through `relativeError`: a NaN output must fail them.
@Test func relativeErrorOfANaNOutputFailsTheBound() {
    #expect(relativeError([Float.nan, 1], [1, 1]).isNaN)
    #expect(relativeError([1.0, 2, .nan], [1, 2, 3]).isNaN)
    #expect(relativeError([1.0, 2], [1, .nan]).isNaN)
    #expect(!(relativeError([Float(1), .nan, 1], [1, 1, 1]) < 1e-5))
    #expect(relativeError([1.0, 2], [1, 2]) == 0)
}
