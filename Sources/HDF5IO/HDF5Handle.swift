import Foundation
import _CHDF5

/// Owns one long-lived HDF5 identifier (a file, group or dataset) and closes it exactly once:
/// on `close()` or on `deinit`, whichever comes first. After closing, `id` is nil, so a closed
/// identifier is never used again (HDF5 recycles identifier values, so a stale one could name
/// some other object).
///
/// Short-lived identifiers (dataspaces, datatypes, property lists, attributes) never leave the
/// function that opens them and are closed there with `defer`.
final class HDF5Handle: @unchecked Sendable {  // the lock guards `rawID`
    enum Kind {
        case file, group, dataset

        func close(_ id: hid_t) -> herr_t {
            switch self {
            case .file: return H5Fclose(id)
            case .group: return H5Gclose(id)
            case .dataset: return H5Dclose(id)
            }
        }
    }

    let kind: Kind
    private let lock = NSLock()
    private var rawID: hid_t

    init(_ id: hid_t, kind: Kind) {
        precondition(id >= 0, "HDF5Handle needs a valid identifier, got \(id)")
        self.rawID = id
        self.kind = kind
    }

    /// The identifier, or nil once closed.
    var id: hid_t? {
        lock.lock(); defer { lock.unlock() }
        return rawID >= 0 ? rawID : nil
    }

    /// Closes the identifier if still open. Returns HDF5's status (0 when already closed); on
    /// failure the caller may read the error stack on this thread.
    @discardableResult
    func close() -> herr_t {
        lock.lock()
        let id = rawID
        rawID = -1
        lock.unlock()
        guard id >= 0 else { return 0 }
        HDF5Library.prepareCurrentThread()
        return kind.close(id)
    }

    deinit {
        if rawID >= 0 {
            HDF5Library.prepareCurrentThread()
            _ = kind.close(rawID)
        }
    }
}

/// The groups and datasets opened from one file, so that closing the file explicitly can close
/// them first (weak references: an object that went away has closed its own identifier).
final class HDF5OpenObjects: @unchecked Sendable {  // the lock guards `handles`
    private struct WeakHandle { weak var handle: HDF5Handle? }
    private let lock = NSLock()
    private var handles: [WeakHandle] = []

    func register(_ handle: HDF5Handle) {
        lock.lock(); defer { lock.unlock() }
        handles.removeAll { $0.handle == nil }
        handles.append(WeakHandle(handle: handle))
    }

    /// Closes every registered object that is still open and forgets them all.
    func closeAll() {
        lock.lock()
        let open = handles.compactMap(\.handle)
        handles.removeAll()
        lock.unlock()
        for handle in open { handle.close() }
    }
}
