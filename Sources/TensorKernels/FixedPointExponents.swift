/// The quanta of a fixed-point sum (`quantizeAndAccumulate`) for several groups of terms — one
/// exponent e_t per parameter tensor t — chosen without a second pass over the terms.
///
/// The terms of one step are quantised with the exponents chosen from the previous step's
/// largest |term| M_t (a global maximum: the same on every rank). The exponent puts the largest
/// term at about 2^targetBits quanta:
///
///     e_t = exponent(M_t) + 1 − targetBits,   so  M_t · 2^−e_t ∈ [2^(targetBits−1), 2^targetBits)
///     targetBits = termBits − headroomBits     (termBits = min(50, 62 − ⌈log₂ n⌉), n terms per element)
///
/// After the step, the new maxima decide (`verdict`): a group whose largest term exceeded the
/// bound 2^termBits (it grew more than 2^headroomBits-fold, so terms were dropped) or fell below
/// 2^minimumBits quanta (it shrank so much that its largest term carries fewer bits than a
/// Float) makes the step invalid, and it is computed again with the exponents `adapted` to the
/// maxima just measured — which then fit by construction, since the terms are the same. A NaN
/// or ±∞ anywhere is reported as such (the caller skips the step). Every input to these
/// decisions is a global maximum, so every rank decides the same.
public struct FixedPointExponents: Sendable, Equatable {
    /// How far (in powers of two) the largest term may grow between two steps before a redo.
    public static let headroomBits = 12
    /// The fewest bits the largest term of a group may carry before a redo: a Float's 24.
    public static let minimumBits = 24
    /// The first step's guess for every group's largest term (it may be redone).
    public static let initialMaximum: Float = 1

    /// The bound on one quantised term, 2^termBits.
    public let termBits: Int
    /// e_t for each group t; quantum 2^e_t.
    public private(set) var exponents: [Int]

    /// Where a step's sums stand once its maxima are known.
    public enum Verdict: Equatable, Sendable {
        /// Every group's terms fitted: the sums are exact.
        case accept
        /// Some group over- or under-ranged: adapt the exponents and compute the step again.
        case redo
        /// A term was NaN or ±∞.
        case nonFinite
    }

    /// The largest number of terms per element the exponent policy supports (termBits ≥ 37).
    public static let maxTerms = 1 << 25

    /// - Parameters:
    ///   - groups: number of groups (parameter tensors).
    ///   - terms: terms added per element in one sum (global micro-batches per step), 1 … `maxTerms`.
    ///   - exponents: saved exponents to continue with (a resumed run), else the initial guess.
    public init(groups: Int, terms: Int, exponents: [Int]? = nil) {
        precondition(terms >= 1 && terms <= Self.maxTerms, "fixed-point sums support 1 … \(Self.maxTerms) terms, got \(terms)")
        termBits = FixedPoint.termBits(terms: terms)
        if let exponents {
            precondition(exponents.count == groups, "\(exponents.count) exponents for \(groups) groups")
            precondition(exponents.allSatisfy(FixedPoint.exponentRange.contains), "a fixed-point exponent is out of range")
            self.exponents = exponents
        } else {
            self.exponents = [Int](repeating: Self.exponent(forMaximum: Self.initialMaximum,
                                                           targetBits: termBits - Self.headroomBits), count: groups)
        }
    }

    /// The bits the largest term of a group is put at.
    public var targetBits: Int { termBits - Self.headroomBits }

    /// e = exponent(M) + 1 − targetBits for a finite M > 0, where exponent(M) = ⌊log₂ M⌋ (−149 …
    /// 127 for Floats, subnormals included); in `FixedPoint.exponentRange` for targetBits 25 … 38.
    public static func exponent(forMaximum maximum: Float, targetBits: Int) -> Int {
        precondition(maximum.isFinite && maximum > 0, "an exponent needs a finite positive maximum, got \(maximum)")
        return Int(maximum.exponent) + 1 - targetBits
    }

    /// Judges a step from its global maxima (`quantizeAndAccumulate`'s results, max-reduced over
    /// every micro-batch and rank), one per group.
    public func verdict(maxima: UnsafeBufferPointer<UInt32>) -> Verdict {
        precondition(maxima.count == exponents.count, "\(maxima.count) maxima for \(exponents.count) groups")
        var verdict = Verdict.accept
        for (t, bits) in maxima.enumerated() {
            let maximum = FixedPoint.magnitude(bits: bits)
            if !maximum.isFinite { return .nonFinite }
            guard maximum > 0 else { continue }
            let quanta = Double(maximum) * FixedPoint.powerOfTwo(-exponents[t])   // exact
            if quanta > FixedPoint.powerOfTwo(termBits) || quanta < FixedPoint.powerOfTwo(Self.minimumBits) {
                verdict = .redo
            }
        }
        return verdict
    }

    /// Sets each group's exponent from its maximum (a finite one; groups whose terms were all zero
    /// keep theirs).
    public mutating func adapt(to maxima: UnsafeBufferPointer<UInt32>) {
        precondition(maxima.count == exponents.count, "\(maxima.count) maxima for \(exponents.count) groups")
        for (t, bits) in maxima.enumerated() {
            let maximum = FixedPoint.magnitude(bits: bits)
            guard maximum.isFinite, maximum > 0 else { continue }
            exponents[t] = Self.exponent(forMaximum: maximum, targetBits: targetBits)
        }
    }
}
