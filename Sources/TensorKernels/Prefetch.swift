import _CCPUFeatures

/// Starts loading the cache line at `address` (a hint that never faults).
@inlinable @inline(__always)
public func prefetch(_ address: UnsafeRawPointer) { flowformer_prefetch(address) }
