import _CHDF5

/// An open dataset: an n-dimensional, row-major array of one element type.
///
/// Reads and writes convert between the stored type and the Swift type `T` (HDF5's numeric
/// conversion); use `requireType` first when a conversion would hide a wrong file.
/// "Rows" are indices along the first axis: row i of a `[N, H, W]` dataset is the `[H, W]` slab.
public final class HDF5Dataset: HDF5AttributeHolder, @unchecked Sendable {  // immutable; see HDF5File
    /// The file and the dataset's absolute path in it.
    public let location: HDF5Location
    /// Extents, outermost first (`[]` for a scalar dataset).
    public let shape: [Int]
    /// The stored element type.
    public let elementType: HDF5ElementType
    /// Chunk extents if the dataset is chunked, nil if contiguous or compact.
    public let chunkShape: [Int]?

    /// Reads shape, type and layout of an opened dataset.
    init(location: HDF5Location) throws {
        self.location = location
        let operation = "cannot inspect dataset"
        let id = try location.id(for: operation)

        let space = try checked(H5Dget_space(id), location, operation)
        defer { _ = H5Sclose(space) }
        let rank = try checked(H5Sget_simple_extent_ndims(space), location, operation)
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try checked(H5Sget_simple_extent_dims(space, &dims, nil), location, operation)
        shape = dims.map { Int($0) }

        let type = try checked(H5Dget_type(id), location, operation)
        defer { _ = H5Tclose(type) }
        elementType = HDF5ElementType(typeID: type)

        let creationList = try checked(H5Dget_create_plist(id), location, operation)
        defer { _ = H5Pclose(creationList) }
        if H5Pget_layout(creationList) == H5D_CHUNKED {
            var chunk = [hsize_t](repeating: 0, count: max(Int(rank), 1))
            let chunkRank = try checked(H5Pget_chunk(creationList, Int32(chunk.count), &chunk),
                                        location, operation)
            chunkShape = chunk.prefix(Int(chunkRank)).map { Int($0) }
        } else {
            chunkShape = nil
        }
    }

    /// Opens the dataset at `path` (relative to `parent`).
    static func open(in parent: HDF5Location, path: String) throws -> HDF5Dataset {
        let objectPath = parent.absolutePath(path)
        let operation = "cannot open dataset"
        let parentID = try parent.id(for: operation)
        let id = try checked(H5Dopen2(parentID, path, ff_h5p_default()), parent, operation,
                             at: objectPath)
        return try HDF5Dataset(location: parent.file.adopt(id, kind: .dataset, path: objectPath))
    }

    /// The dataset's absolute path inside the file.
    public var path: String { location.objectPath }

    /// Number of elements: the product of `shape` (1 for a scalar dataset).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Extent of the first axis (1 for a scalar dataset).
    public var rowCount: Int { shape.first ?? 1 }

    /// Elements per row: the product of `shape[1...]`.
    public var rowElementCount: Int { shape.dropFirst().reduce(1, *) }

    /// Throws unless the stored type is one of `allowed`, e.g.
    /// `/data/train.h5:/labels has dtype float32, expected one of uint8, int32, int64`.
    public func requireType(_ allowed: [HDF5ElementType]) throws {
        guard !allowed.contains(elementType) else { return }
        let expected = allowed.map(\.description).joined(separator: ", ")
        throw HDF5Error(operation: "unexpected dtype", filePath: location.filePath,
                        objectPath: path,
                        reason: "has dtype \(elementType), expected one of \(expected)",
                        description: "\(location) has dtype \(elementType), expected one of \(expected)")
    }

    /// Throws unless `shape` equals `expected`, e.g.
    /// `/data/train.h5:/images has shape [10, 28, 28], expected [10, 28, 28, 1]`.
    public func requireShape(_ expected: [Int]) throws {
        guard shape != expected else { return }
        throw HDF5Error(operation: "unexpected shape", filePath: location.filePath,
                        objectPath: path, reason: "has shape \(shape), expected \(expected)",
                        description: "\(location) has shape \(shape), expected \(expected)")
    }
}
