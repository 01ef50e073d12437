import _CHDF5

extension HDF5Group {
    /// Default target size of one chunk when chunking is needed but `chunkRows` is not given.
    public static let defaultChunkBytes = 1 << 20

    /// Creates a dataset of `shape` holding `T` (stored as `T.hdf5ElementType`, little-endian on
    /// this platform), creating missing intermediate groups. Its contents start as zeros.
    ///
    /// Layout: contiguous, unless `chunkRows`, `gzipLevel` or `checksum` is given; then chunked
    /// along the first axis, each chunk `[chunkRows, shape[1], …]` (`chunkRows` defaults to about
    /// `defaultChunkBytes` per chunk and is capped at `shape[0]`). Reading a row range touches only
    /// the chunks that hold it, and a chunk is decompressed whole.
    ///
    /// - Parameters:
    ///   - chunkRows: rows per chunk, ≥ 1.
    ///   - gzipLevel: deflate level 0…9 (with the byte-shuffle filter before it for multi-byte
    ///     types, which makes numbers compress better).
    ///   - checksum: add a Fletcher-32 checksum per chunk; a corrupted chunk then fails to read.
    /// - Note: a dataset with no elements, or of rank 0, is stored contiguously without filters
    ///   (HDF5 cannot chunk them).
    public func createDataset<T: HDF5Scalar>(
        _ path: String, of type: T.Type, shape: [Int],
        chunkRows: Int? = nil, gzipLevel: Int? = nil, checksum: Bool = false
    ) throws -> HDF5Dataset {
        precondition(shape.allSatisfy { $0 >= 0 }, "dataset shape \(shape) has a negative extent")
        precondition(chunkRows.map { $0 >= 1 } ?? true, "chunkRows must be ≥ 1, got \(chunkRows!)")
        precondition(gzipLevel.map { (0...9).contains($0) } ?? true,
                     "gzipLevel must be in 0...9, got \(gzipLevel!)")
        let objectPath = location.absolutePath(path)
        let operation = "cannot create dataset"
        let parentID = try location.id(for: operation)
        @discardableResult func check<S: BinaryInteger>(_ status: S) throws -> S {
            try checked(status, location, operation, at: objectPath)
        }

        // Dataspace: [shape] (rank 0 = scalar).
        let space: hid_t
        if shape.isEmpty {
            space = try check(H5Screate(H5S_SCALAR))
        } else {
            let dims = shape.map { hsize_t($0) }
            space = try check(H5Screate_simple(Int32(dims.count), dims, nil))
        }
        defer { _ = H5Sclose(space) }

        let creationList = try check(H5Pcreate(ff_h5p_dataset_create()))
        defer { _ = H5Pclose(creationList) }
        let wantsChunks = chunkRows != nil || gzipLevel != nil || checksum
        let elementCount = shape.reduce(1, *)
        if wantsChunks && !shape.isEmpty && elementCount > 0 {
            let chunk = try chunkShape(shape: shape, elementBytes: MemoryLayout<T>.stride,
                                       chunkRows: chunkRows, objectPath: objectPath)
            try check(H5Pset_chunk(creationList, Int32(chunk.count), chunk.map { hsize_t($0) }))
            if let gzipLevel {
                if MemoryLayout<T>.stride > 1 { try check(H5Pset_shuffle(creationList)) }
                try check(H5Pset_deflate(creationList, UInt32(gzipLevel)))
            }
            // Last in the pipeline: the checksum covers the bytes as stored on disk.
            if checksum { try check(H5Pset_fletcher32(creationList)) }
        }

        let linkList = try check(H5Pcreate(ff_h5p_link_create()))
        defer { _ = H5Pclose(linkList) }
        try check(H5Pset_create_intermediate_group(linkList, 1))

        let id = try check(H5Dcreate2(parentID, path, T.nativeTypeID, space, linkList, creationList,
                                      ff_h5p_default()))
        return try HDF5Dataset(location: location.file.adopt(id, kind: .dataset, path: objectPath))
    }

    /// Chunk extents `[rows, shape[1], …]` for a dataset of `shape` (no zero extents).
    private func chunkShape(shape: [Int], elementBytes: Int, chunkRows: Int?,
                            objectPath: String) throws -> [Int] {
        let rowBytes = shape.dropFirst().reduce(elementBytes, *)
        let maxChunkBytes = Int(UInt32.max) - 1  // HDF5 limit on one chunk
        guard rowBytes <= maxChunkBytes else {
            throw location.error("cannot create dataset", at: objectPath,
                                 reason: "one row is \(rowBytes) bytes, above HDF5's 4 GiB chunk limit")
        }
        let requested = chunkRows ?? max(1, HDF5Group.defaultChunkBytes / rowBytes)
        let rows = min(requested, shape[0], maxChunkBytes / rowBytes)
        return [rows] + shape.dropFirst()
    }
}
