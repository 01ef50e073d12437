import _CHDF5

/// Whole-dataset and row-range (hyperslab on axis 0) reads and writes.
extension HDF5Dataset {
    /// The whole dataset, row-major, converted by HDF5 to `T`: `elementCount` values.
    public func read<T: HDF5Scalar>(as type: T.Type) throws -> [T] {
        let count = elementCount
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }

    /// Reads the whole dataset into `buffer`, which must hold exactly `elementCount` values.
    public func read<T: HDF5Scalar>(into buffer: UnsafeMutableBufferPointer<T>) throws {
        let operation = "cannot read dataset"
        try requireCount(buffer.count, operation)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let id = try location.id(for: operation)
        try checked(H5Dread(id, T.nativeTypeID, ff_h5s_all(), ff_h5s_all(), ff_h5p_default(), base),
                    location, operation)
    }

    /// Reads rows `rows` (indices on the first axis) into `destination`, which must have room for
    /// `rows.count · rowElementCount` values of `T`: `destination[r·rowElementCount + j]` is element
    /// j of row `rows.lowerBound + r`.
    ///
    /// Throws if `rows` is not inside `0..<rowCount`.
    public func readRows<T: HDF5Scalar>(_ rows: Range<Int>, into destination: UnsafeMutablePointer<T>) throws {
        try transferRows(rows, operation: "cannot read rows \(rows) of") { id, memorySpace, fileSpace in
            H5Dread(id, T.nativeTypeID, memorySpace, fileSpace, ff_h5p_default(), destination)
        }
    }

    /// Rows `rows` as a new array of `rows.count · rowElementCount` values.
    public func readRows<T: HDF5Scalar>(_ rows: Range<Int>, as type: T.Type) throws -> [T] {
        let count = rows.count * rowElementCount
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress { try readRows(rows, into: base) }
            initialized = count
        }
    }

    /// Writes the whole dataset from `values` (exactly `elementCount` of them, row-major),
    /// converted by HDF5 from `T` to the stored type.
    public func write<T: HDF5Scalar>(_ values: [T]) throws {
        try values.withUnsafeBufferPointer { try write($0) }
    }

    /// Writes the whole dataset from `buffer` (exactly `elementCount` values, row-major).
    public func write<T: HDF5Scalar>(_ buffer: UnsafeBufferPointer<T>) throws {
        let operation = "cannot write dataset"
        try requireCount(buffer.count, operation)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let id = try location.id(for: operation)
        try checked(H5Dwrite(id, T.nativeTypeID, ff_h5s_all(), ff_h5s_all(), ff_h5p_default(), base),
                    location, operation)
    }

    /// Writes rows `rows` from `source`, laid out as in `readRows(_:into:)`.
    ///
    /// Throws if `rows` is not inside `0..<rowCount`.
    public func writeRows<T: HDF5Scalar>(_ rows: Range<Int>, from source: UnsafePointer<T>) throws {
        try transferRows(rows, operation: "cannot write rows \(rows) of") { id, memorySpace, fileSpace in
            H5Dwrite(id, T.nativeTypeID, memorySpace, fileSpace, ff_h5p_default(), source)
        }
    }

    // MARK: - Helpers

    private func requireCount(_ count: Int, _ operation: String) throws {
        guard count != elementCount else { return }
        throw location.error(operation, reason: "the buffer holds \(count) values but the dataset "
                             + "has \(elementCount) (shape \(shape))")
    }

    /// Selects `rows` of the file dataspace and a matching memory dataspace `[rows.count, shape[1], …]`,
    /// then runs `transfer(datasetID, memorySpace, fileSpace)`.
    private func transferRows(_ rows: Range<Int>, operation: String,
                              _ transfer: (hid_t, hid_t, hid_t) -> herr_t) throws {
        guard !shape.isEmpty else {
            throw location.error(operation, reason: "the dataset is a scalar and has no rows")
        }
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw location.error(operation, reason: "the dataset has \(rowCount) rows")
        }
        guard !rows.isEmpty, rowElementCount > 0 else { return }
        let id = try location.id(for: operation)

        let fileSpace = try checked(H5Dget_space(id), location, operation)
        defer { _ = H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: shape.count)
        start[0] = hsize_t(rows.lowerBound)
        var count = shape.map { hsize_t($0) }
        count[0] = hsize_t(rows.count)
        try checked(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, count, nil),
                    location, operation)

        let memorySpace = try checked(H5Screate_simple(Int32(count.count), count, nil),
                                      location, operation)
        defer { _ = H5Sclose(memorySpace) }
        try checked(transfer(id, memorySpace, fileSpace), location, operation)
    }
}
