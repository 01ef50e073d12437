import MPIComm

/// The MPI checks of `flowformer selftest`. Every rank runs the same collectives in the same
/// order; each rank's values are derived from its rank, so every result has a closed form.
///
/// Pattern: rank r (0-based) of N contributes at index i
///
///     x(r, i) = s(i)·(r + 1) + i,   s(i) = +1 for even i, −1 for odd i
///
/// so, with m = r + 1 running over 1 … N,
///
///     even i:  Σ_r x =  N(N+1)/2 + N·i,   max = N + i,    min = 1 + i
///     odd i:   Σ_r x = −N(N+1)/2 + N·i,   max = −1 + i,   min = −N + i
///
/// Each scalar type encodes the integer x exactly (`ScalarEncoding`), so results compare with `==`.
enum MPISelftest {
    /// Elements per all-reduce check; odd and even indices both occur.
    static let length = 1000

    static func allReduce(world: Communicator) throws -> [String] {
        try checkAllReduce(ScalarEncoding<Float>.float, world: world)
            + checkAllReduce(ScalarEncoding<Double>.double, world: world)
            + checkAllReduce(ScalarEncoding<Int32>.int32, world: world)
            + checkAllReduce(ScalarEncoding<Int64>.int64, world: world)
    }

    static func broadcast(world: Communicator) throws -> [String] {
        var failures: [String] = []
        for root in Set([0, world.size - 1]).sorted() {
            failures += try checkBroadcast("float", root: root, world: world) { Float($0) * 0.5 }
            failures += try checkBroadcast("double", root: root, world: world) { Double($0) * 0.25 }
            failures += try checkBroadcast("int32", root: root, world: world) { Int32($0) }
            failures += try checkBroadcast("int64", root: root, world: world) { Int64($0) << 33 + Int64($0) }
            failures += try checkBroadcast("uint8", root: root, world: world) { UInt8(truncatingIfNeeded: $0) }
            failures += try checkStringBroadcast(root: root, world: world)
        }
        return failures
    }

    static func nonBlocking(world: Communicator, watchdogSeconds: Double) throws -> [String] {
        var failures: [String] = []

        // One request, completed by test() polling and then wait().
        let doubles = ScalarEncoding<Double>.double
        var sums = contribution(doubles, rank: world.rank)  // [length]
        try sums.withUnsafeMutableBufferPointer { buffer in
            let request = try world.allReduceNonBlocking(buffer, op: .sum)
            _ = try request.test()
            try request.wait()
            if !request.isComplete { failures.append("nonblocking: isComplete is false after wait()") }
            if try !request.test() { failures.append("nonblocking: test() is false after wait()") }
        }
        failures += mismatches("nonblocking double sum", sums, expected(doubles, op: .sum, size: world.size))

        // Several requests (chunks of 100), completed by polling with a deadline.
        let int64s = ScalarEncoding<Int64>.int64
        var maxima = contribution(int64s, rank: world.rank)  // [length]
        try maxima.withUnsafeMutableBufferPointer { buffer in
            let request = try world.allReduceNonBlocking(buffer, op: .max, maxElementsPerCall: 100)
            try request.wait(seconds: watchdogSeconds)
        }
        failures += mismatches("nonblocking int64 max (chunks of 100)", maxima,
                               expected(int64s, op: .max, size: world.size))

        // The watchdog building block on a healthy job.
        let floats = ScalarEncoding<Float>.float
        var minima = contribution(floats, rank: world.rank)  // [length]
        try world.allReduceWithTimeout(&minima, op: .min, seconds: watchdogSeconds)
        failures += mismatches("allReduceWithTimeout float min", minima, expected(floats, op: .min, size: world.size))
        return failures
    }

    // MARK: - All-reduce

    private static func checkAllReduce<T: MPIScalar>(_ encoding: ScalarEncoding<T>,
                                                     world: Communicator) throws -> [String] {
        var failures: [String] = []
        for op in MPIReduceOp.allCases {
            let name = "allreduce \(encoding.name) \(op)"
            let wanted = expected(encoding, op: op, size: world.size)  // [length]

            var whole = contribution(encoding, rank: world.rank)  // [length]
            try world.allReduce(&whole, op: op)
            failures += mismatches(name, whole, wanted)

            var chunked = contribution(encoding, rank: world.rank)  // [length]
            try chunked.withUnsafeMutableBufferPointer { try world.allReduce($0, op: op, maxElementsPerCall: 7) }
            failures += mismatches(name + " (chunks of 7)", chunked, wanted)

            let index = 3
            let scalar = try world.allReduce(encoding.encode(pattern(rank: world.rank, index: index), 1), op: op)
            failures += mismatches(name + " (scalar)", [scalar], [wanted[index]])

            var empty: [T] = []
            try world.allReduce(&empty, op: op)
            if !empty.isEmpty { failures.append(name + " (empty): got \(empty.count) elements") }
        }
        return failures
    }

    /// x(r, i) = s(i)·(r + 1) + i (see the type's comment).
    static func pattern(rank: Int, index: Int) -> Int64 {
        let sign: Int64 = index % 2 == 0 ? 1 : -1
        return sign * Int64(rank + 1) + Int64(index)
    }

    /// op over ranks 0 ..< size of x(r, index), in closed form.
    static func closedForm(_ op: MPIReduceOp, index: Int, size: Int) -> Int64 {
        let n = Int64(size)
        let i = Int64(index)
        let even = index % 2 == 0
        switch op {
        case .sum: return (even ? 1 : -1) * n * (n + 1) / 2 + n * i
        case .max: return even ? n + i : -1 + i
        case .min: return even ? 1 + i : -n + i
        }
    }

    private static func contribution<T>(_ encoding: ScalarEncoding<T>, rank: Int) -> [T] {
        (0..<length).map { encoding.encode(pattern(rank: rank, index: $0), 1) }
    }

    private static func expected<T>(_ encoding: ScalarEncoding<T>, op: MPIReduceOp, size: Int) -> [T] {
        let copies = op == .sum ? Int64(size) : 1
        return (0..<length).map { encoding.encode(closedForm(op, index: $0, size: size), copies) }
    }

    // MARK: - Broadcast

    /// Broadcasts from `root` a buffer in place (chunks of 64), an array whose length only the
    /// root knows, and a scalar; `make(k)` turns an integer into a test value.
    private static func checkBroadcast<T: MPIElement & Equatable>(
        _ name: String, root: Int, world: Communicator, make: (Int) -> T
    ) throws -> [String] {
        let isRoot = world.rank == root
        let count = 257
        let rootValues = (0..<count).map { make(3 * $0 + 1000 * root + 1) }  // [count]
        let label = "broadcast \(name) from rank \(root)"
        var failures: [String] = []

        var buffer = isRoot ? rootValues : (0..<count).map { make(-$0 - 7) }  // [count]
        try buffer.withUnsafeMutableBufferPointer { try world.broadcast($0, root: root, maxElementsPerCall: 64) }
        failures += mismatches(label + " (buffer, chunks of 64)", buffer, rootValues)

        let arrayLength = 100 + root
        var array = isRoot ? Array(rootValues.prefix(arrayLength)) : []  // [arrayLength] after
        try world.broadcast(&array, root: root)
        failures += mismatches(label + " (array, length first)", array, Array(rootValues.prefix(arrayLength)))

        let scalar = try world.broadcast(isRoot ? rootValues[5] : make(-1), root: root)
        failures += mismatches(label + " (scalar)", [scalar], [rootValues[5]])
        return failures
    }

    private static func checkStringBroadcast(root: Int, world: Communicator) throws -> [String] {
        let isRoot = world.rank == root
        let text = "selftest text from rank \(root) of \(world.size): naïve café ✓"
        var failures: [String] = []
        let received = try world.broadcast(isRoot ? text : "", root: root)
        if received != text {
            failures.append("broadcast string from rank \(root): got \"\(received)\", expected \"\(text)\"")
        }
        let empty = try world.broadcast(isRoot ? "" : "not empty", root: root)
        if !empty.isEmpty {
            failures.append("broadcast empty string from rank \(root): got \"\(empty)\"")
        }
        return failures
    }

    // MARK: - Comparison

    /// One line for the first differing element (and the number of differences), or none.
    static func mismatches<T: Equatable>(_ check: String, _ got: [T], _ wanted: [T]) -> [String] {
        guard got.count == wanted.count else {
            return ["\(check): got \(got.count) elements, expected \(wanted.count)"]
        }
        let wrong = got.indices.filter { got[$0] != wanted[$0] }
        guard let first = wrong.first else { return [] }
        return ["\(check): element \(first) is \(got[first]), expected \(wanted[first])"
                + (wrong.count > 1 ? " (\(wrong.count) elements differ)" : "")]
    }
}

/// How a scalar type represents the integer test pattern exactly:
/// value = scale·x + copies·offset, where `copies` is how many ranks' offsets a result holds
/// (N for a sum, 1 otherwise). The offsets push Int64 and Double past 32-bit range.
struct ScalarEncoding<T: MPIScalar> {
    let name: String
    let encode: (_ x: Int64, _ copies: Int64) -> T

    /// Quarter steps stay exact in Float for |x| < 2²²: any summation order gives the same bits.
    static var float: ScalarEncoding<Float> { .init(name: "float") { x, _ in Float(x) * 0.25 } }
    static var double: ScalarEncoding<Double> { .init(name: "double") { x, copies in Double(x) * 0.5 + Double(copies) * 0x1p40 } }
    static var int32: ScalarEncoding<Int32> { .init(name: "int32") { x, copies in Int32(x) + Int32(copies) << 20 } }
    static var int64: ScalarEncoding<Int64> { .init(name: "int64") { x, copies in x + copies << 40 } }
}
