import _CHDF5

/// Process-wide set-up of libhdf5 and the per-thread part of it.
///
/// `H5open()` runs once (a Swift global initialiser is run exactly once, under a lock). HDF5's
/// automatic error printing is a property of each thread's error stack in a thread-safe build of
/// the library (a new thread starts with printing switched on), so every entry point of this
/// module calls `prepareCurrentThread()`, which switches it off for the calling thread. The call
/// costs one pass through HDF5's API lock, nothing next to the I/O that follows.
enum HDF5Library {
    private static let openedOnce: Void = {
        // No exit-time clean-up (`H5_term_library` via atexit): when a file's close fails on a write
        // error (disk full, file-size limit), HDF5 1.10 keeps a half-destroyed file object that
        // the clean-up then dereferences — a segfault at exit after the error was reported. Every
        // file this module opens is closed by `HDF5File` itself, so the clean-up has nothing to do.
        // Must run before the library initialises, i.e. before any other HDF5 call.
        _ = H5dont_atexit()
        let status = H5open()
        precondition(status >= 0, "libhdf5 failed to initialise (H5open returned \(status))")
    }()

    /// Opens the library (first call only) and stops HDF5 printing errors on this thread.
    @inline(__always)
    static func prepareCurrentThread() {
        _ = openedOnce
        _ = H5Eset_auto2(ff_h5e_default(), nil, nil)
    }

    /// True when the linked libhdf5 was built with its global API lock (Debian's serial build is).
    static var isThreadSafe: Bool {
        prepareCurrentThread()
        var flag: hbool_t = false
        return H5is_library_threadsafe(&flag) >= 0 && flag
    }
}
