import _CHDF5

/// An open HDF5 file. Closed when the last reference to it (or to any group or dataset opened from
/// it) goes away, or earlier by `close()`.
///
/// Files are opened with the "strong" close degree: closing the file closes every object still
/// open in it, so nothing stays open and the file lock is released.
///
/// Thread safety: Debian's libhdf5 is built thread-safe (one global lock around every call), and
/// this class and the objects opened from it keep no unguarded mutable state, so they may be used
/// from several threads; calls are serialised by HDF5. Do not `close()` a file while another
/// thread is still using objects from it.
public final class HDF5File: @unchecked Sendable {
    /// How to open the file.
    public enum Mode: Sendable {
        /// Open an existing file for reading.
        case readOnly
        /// Open an existing file for reading and writing.
        case readWrite
        /// Create the file, or overwrite an existing one.
        case truncate
    }

    /// The path as given to `init`; used in every error message.
    public let path: String
    /// The mode the file was opened in.
    public let mode: Mode

    let handle: HDF5Handle
    let openObjects = HDF5OpenObjects()

    /// Opens or creates the file at `path`.
    ///
    /// - Parameter chunkCacheBytes: size of the cache of decompressed chunks kept per open
    ///   dataset (HDF5's default is 1 MiB). A chunk larger than the cache is decompressed again
    ///   on every read that touches it, so random row reads from a compressed dataset want room
    ///   for at least one chunk, better a few.
    ///
    /// Throws `HDF5Error` naming the path and HDF5's reason (missing file, not an HDF5 file,
    /// locked by another process, …).
    public init(path: String, mode: Mode, chunkCacheBytes: Int? = nil) throws {
        precondition(chunkCacheBytes.map { $0 >= 0 } ?? true, "chunkCacheBytes must be ≥ 0")
        HDF5Library.prepareCurrentThread()
        self.path = path
        self.mode = mode
        let operation: String
        switch mode {
        case .readOnly: operation = "cannot open file"
        case .readWrite: operation = "cannot open file for writing"
        case .truncate: operation = "cannot create file"
        }
        let fail = { HDF5Error.fromLibrary(operation, filePath: path, objectPath: "") }

        let accessList = H5Pcreate(ff_h5p_file_access())
        guard accessList >= 0 else { throw fail() }
        defer { _ = H5Pclose(accessList) }
        guard H5Pset_fclose_degree(accessList, H5F_CLOSE_STRONG) >= 0 else { throw fail() }
        if let chunkCacheBytes {
            // Slots: a prime well above the number of chunks that fit, as HDF5 recommends; the
            // first argument (metadata cache elements) is ignored by HDF5 1.10.
            let slots = 12_421
            guard H5Pset_cache(accessList, 0, slots, chunkCacheBytes, 0.75) >= 0 else { throw fail() }
        }

        let id: hid_t
        switch mode {
        case .readOnly: id = H5Fopen(path, ff_h5f_acc_rdonly(), accessList)
        case .readWrite: id = H5Fopen(path, ff_h5f_acc_rdwr(), accessList)
        case .truncate: id = H5Fcreate(path, ff_h5f_acc_trunc(), ff_h5p_default(), accessList)
        }
        guard id >= 0 else { throw fail() }
        // A damaged file can open while its root group cannot (a flipped byte in the root
        // object header): report that here, where it can be thrown, since `root` cannot throw.
        let rootGroup = H5Gopen2(id, "/", ff_h5p_default())
        guard rootGroup >= 0 else {
            let error = fail()
            _ = H5Fclose(id)
            throw error
        }
        _ = H5Gclose(rootGroup)
        handle = HDF5Handle(id, kind: .file)
    }

    deinit {
        openObjects.closeAll()
        handle.close()
    }

    /// The location of the file itself, for errors and for the root group.
    var location: HDF5Location { HDF5Location(file: self, handle: handle, objectPath: "/") }

    /// The root group `/`.
    ///
    /// - Precondition: the file has not been closed with `close()`.
    public var root: HDF5Group {
        do {
            return try HDF5Group.open(in: location, path: "/")
        } catch {
            preconditionFailure("cannot open the root group: \(error)")
        }
    }

    /// Writes HDF5's buffers for this file to the operating system (not to the disk: fsync the file
    /// after closing it when durability matters).
    public func flush() throws {
        let id = try location.id(for: "cannot flush file")
        try checked(H5Fflush(id, H5F_SCOPE_GLOBAL), location, "cannot flush file", at: "")
    }

    /// Closes every group and dataset opened from this file, then the file. Idempotent.
    ///
    /// Use it when close errors matter (a full disk shows up here) or when the file must be closed
    /// at a known point, e.g. before renaming it; objects from this file throw afterwards.
    public func close() throws {
        HDF5Library.prepareCurrentThread()
        openObjects.closeAll()
        if handle.close() < 0 {
            throw HDF5Error.fromLibrary("cannot close file", filePath: path, objectPath: "")
        }
    }

    /// Is the file still open?
    public var isOpen: Bool { handle.id != nil }
}
