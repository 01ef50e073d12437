#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts the bytes of every `Tensor` built inside `measure`, by category, without using the
/// memory: while a census runs, a tensor's buffer is an anonymous `mmap` with `MAP_NORESERVE`
/// (address space only — Linux hands out zero pages on first touch and no page is touched), so a
/// model far larger than the machine can be "built" to learn what it would allocate.
///
/// The trainer's memory plan (`Training/RunPlan`) builds the real model this way before
/// allocating anything, so its figures are the model's own allocations, not a formula kept
/// beside them. Allocation sites mark what their tensors are with `during(_:_:)`; unmarked
/// tensors count as `.activations`.
///
/// A census belongs to the thread that runs it; tensors other threads build meanwhile are real.
public enum TensorCensus {
    /// What a tensor holds, for the plan's breakdown.
    public enum Category: Int, CaseIterable, Sendable {
        /// The flat parameter buffer.
        case parameters
        /// The flat gradient buffer.
        case gradients
        /// Layer outputs and statistics kept from forward for backward.
        case activations
        /// Scratch reused within a step (gradients of activations, per-thread workspaces).
        case workspaces
    }

    /// The census running on a thread: bytes per category and the category being built.
    final class Tally {
        var counts = [Int](repeating: 0, count: Category.allCases.count)
        var category: Category = .activations
    }

    /// Per thread (a census on one thread never sees tensors other threads build meanwhile).
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var tally: Tally? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<Tally>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Whether a census runs on this thread (tensors built now are not backed by memory).
    public static var isActive: Bool { pthread_getspecific(key) != nil }

    /// Runs `build` in census mode on this thread and returns the bytes its tensors asked for, by
    /// category. Whatever `build` returns is released before this returns; it must not be used
    /// for work.
    public static func measure(_ build: () -> AnyObject) -> [Category: Int] {
        precondition(!isActive, "TensorCensus.measure does not nest")
        let tally = Tally()
        pthread_setspecific(key, Unmanaged.passUnretained(tally).toOpaque())
        do { _ = build() }
        pthread_setspecific(key, nil)
        var byCategory: [Category: Int] = [:]
        for c in Category.allCases { byCategory[c] = tally.counts[c.rawValue] }
        return byCategory
    }

    /// Runs `body` with tensors built in it counted as `category` (outside a census: just runs it).
    @inline(__always)
    public static func during<T>(_ category: Category, _ body: () -> T) -> T {
        guard let tally else { return body() }
        let previous = tally.category
        tally.category = category
        defer { tally.category = previous }
        return body()
    }

    /// A census allocation: `bytes` of address space, zero on first touch. Nil if the kernel
    /// refuses even that (e.g. `vm.overcommit_memory = 2`); the tensor is then allocated normally.
    static func reserve(bytes: Int) -> UnsafeMutableRawPointer? {
        if let tally { tally.counts[tally.category.rawValue] += bytes }
        #if canImport(Glibc)
        let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let address, address != MAP_FAILED else { return nil }
        return address
        #else
        return nil
        #endif
    }

    static func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        #if canImport(Glibc)
        munmap(pointer, bytes)
        #endif
    }
}
