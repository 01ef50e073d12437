import _CHDF5

/// An open group of an HDF5 file (`file.root` is the group `/`).
///
/// Paths given to its methods are relative to this group and may contain `/` (`"grad/x"`); a path
/// starting with `/` is taken from the root of the file.
public final class HDF5Group: HDF5AttributeHolder, @unchecked Sendable {  // immutable; see HDF5File
    /// The file and the group's absolute path in it.
    public let location: HDF5Location

    private init(location: HDF5Location) {
        self.location = location
    }

    /// Opens the group at `path` (relative to `parent`).
    static func open(in parent: HDF5Location, path: String) throws -> HDF5Group {
        let objectPath = parent.absolutePath(path)
        let operation = "cannot open group"
        let parentID = try parent.id(for: operation)
        let id = try checked(H5Gopen2(parentID, path, ff_h5p_default()), parent, operation,
                             at: objectPath)
        return HDF5Group(location: parent.file.adopt(id, kind: .group, path: objectPath))
    }

    /// The group's absolute path inside the file.
    public var path: String { location.objectPath }

    /// The file this group belongs to.
    public var file: HDF5File { location.file }

    /// Opens the dataset at `path`, e.g. `"labels"` or `"grad/x"`.
    public func dataset(_ path: String) throws -> HDF5Dataset {
        try HDF5Dataset.open(in: location, path: path)
    }

    /// Opens the group at `path`.
    public func group(_ path: String) throws -> HDF5Group {
        try HDF5Group.open(in: location, path: path)
    }

    /// Creates the group at `path`, creating missing intermediate groups. Throws if it exists.
    public func createGroup(_ path: String) throws -> HDF5Group {
        let objectPath = location.absolutePath(path)
        let operation = "cannot create group"
        let parentID = try location.id(for: operation)
        let linkList = try checked(H5Pcreate(ff_h5p_link_create()), location, operation, at: objectPath)
        defer { _ = H5Pclose(linkList) }
        try checked(H5Pset_create_intermediate_group(linkList, 1), location, operation, at: objectPath)
        let id = try checked(H5Gcreate2(parentID, path, linkList, ff_h5p_default(), ff_h5p_default()),
                             location, operation, at: objectPath)
        return HDF5Group(location: location.file.adopt(id, kind: .group, path: objectPath))
    }

    /// True if a group or dataset exists at `path` (every component is checked in turn, so a
    /// missing intermediate group gives false, not an error).
    public func exists(_ path: String) -> Bool {
        HDF5Library.prepareCurrentThread()
        guard let id = location.handle.id else { return false }
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in components {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if H5Lexists(id, prefix, ff_h5p_default()) <= 0 { return false }
        }
        // The link exists; make sure it leads to an object (a soft link may dangle).
        return components.isEmpty || H5Oexists_by_name(id, prefix, ff_h5p_default()) > 0
    }

    /// Names of the links directly in this group (datasets and groups), sorted.
    public func memberNames() throws -> [String] {
        let operation = "cannot list group"
        let id = try location.id(for: operation)
        var info = H5G_info_t()
        try checked(H5Gget_info(id, &info), location, operation)
        return try (0..<info.nlinks).map { index in
            try readName(location, operation) { buffer, size in
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, ff_h5p_default())
            }
        }.sorted()
    }
}

extension HDF5File {
    /// Wraps a freshly opened group or dataset identifier so that it is closed exactly once.
    func adopt(_ id: hid_t, kind: HDF5Handle.Kind, path: String) -> HDF5Location {
        let handle = HDF5Handle(id, kind: kind)
        openObjects.register(handle)
        return HDF5Location(file: self, handle: handle, objectPath: path)
    }
}
