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
        var maxDims = [hsize_t](repeating: 0, count: Int(rank))
        try checked(H5Sget_simple_extent_dims(space, &dims, &maxDims), location, operation)

        let type = try checked(H5Dget_type(id), location, operation)
        defer { _ = H5Tclose(type) }
        elementType = HDF5ElementType(typeID: type)

        let creationList = try checked(H5Dget_create_plist(id), location, operation)
        defer { _ = H5Pclose(creationList) }
        var chunk: [hsize_t]?
        if H5Pget_layout(creationList) == H5D_CHUNKED {
            var extents = [hsize_t](repeating: 0, count: max(Int(rank), 1))
            let chunkRank = try checked(H5Pget_chunk(creationList, Int32(extents.count), &extents),
                                        location, operation)
            chunk = Array(extents.prefix(Int(chunkRank)))
        }

        // HDF5 1.10 does not check these when it decodes an object header, and reads trust them:
        // a damaged extent makes callers allocate or read absurd amounts, a damaged chunk
        // extent makes the library copy past the end of a decompressed chunk.
        try HDF5Dataset.requirePlausibleLayout(dims: dims, maxDims: maxDims, chunk: chunk,
                                               elementBytes: H5Tget_size(type), location: location)
        shape = dims.map { Int($0) }
        chunkShape = chunk?.map { Int($0) }
    }

    /// Throws unless the extents are within their maxima, the whole dataset's byte count fits in
    /// an `Int`, and the chunk has one extent ≥ 1 per axis, each within the dataset's maximum on
    /// that axis (HDF5 refuses to create anything else).
    private static func requirePlausibleLayout(dims: [hsize_t], maxDims: [hsize_t], chunk: [hsize_t]?,
                                               elementBytes: Int, location: HDF5Location) throws {
        func damaged(_ what: String) -> HDF5Error {
            location.error("cannot open dataset", reason: "the file is damaged: \(what)")
        }
        let unlimited = ff_h5s_unlimited()
        var bytes = max(elementBytes, 1)
        for axis in dims.indices {
            if maxDims[axis] != unlimited && dims[axis] > maxDims[axis] {
                throw damaged("extent \(dims[axis]) on axis \(axis) exceeds the maximum \(maxDims[axis])")
            }
            let (product, overflow) = bytes.multipliedReportingOverflow(by: Int(clamping: dims[axis]))
            if overflow || dims[axis] > hsize_t(Int.max) {
                throw damaged("shape \(dims) of \(elementBytes)-byte elements has more bytes than memory can address")
            }
            bytes = product
        }
        guard let chunk else { return }
        guard chunk.count == dims.count else {
            throw damaged("chunk rank \(chunk.count) differs from the dataset's rank \(dims.count)")
        }
        for axis in chunk.indices {
            let limit = maxDims[axis] == unlimited ? hsize_t(UInt32.max) : maxDims[axis]
            guard chunk[axis] >= 1 && chunk[axis] <= max(limit, 1) else {
                throw damaged("chunk extent \(chunk[axis]) on axis \(axis) is outside 1...\(max(limit, 1))")
            }
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
