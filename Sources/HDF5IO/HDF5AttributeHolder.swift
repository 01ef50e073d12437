import _CHDF5

/// An object that carries attributes: `HDF5Group` (including the root) and `HDF5Dataset`.
///
/// Numbers are read with HDF5's conversion to the requested type (an int8 attribute reads as
/// `Int`, a float64 one as `Float`); a string attribute read as a number, or a number read as a
/// string, is an error. Setting an attribute replaces any attribute of the same name.
public protocol HDF5AttributeHolder: AnyObject {
    /// The file and object path of the holder.
    var location: HDF5Location { get }
}

extension HDF5AttributeHolder {
    /// True if the object has an attribute called `name`.
    public func hasAttribute(_ name: String) -> Bool {
        HDF5Library.prepareCurrentThread()
        guard let id = location.handle.id else { return false }
        return H5Aexists(id, name) > 0
    }

    /// Names of the object's attributes, sorted.
    public func attributeNames() throws -> [String] {
        let operation = "cannot list attributes of"
        let id = try location.id(for: operation)
        var info = H5O_info_t()
        try checked(H5Oget_info2(id, &info, UInt32(H5O_INFO_NUM_ATTRS)), location, operation)
        return try (0..<info.num_attrs).map { index in
            try readName(location, operation) { buffer, size in
                H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, ff_h5p_default())
            }
        }.sorted()
    }

    /// The single numeric value of attribute `name`, converted to `T`.
    public func attribute<T: HDF5Scalar>(_ name: String, as type: T.Type) throws -> T {
        let values = try attributeArray(name, as: T.self)
        guard values.count == 1, let value = values.first else {
            throw location.error("cannot read attribute '\(name)' of",
                                 reason: "it holds \(values.count) values, expected one")
        }
        return value
    }

    /// All values of numeric attribute `name` (row-major if multi-dimensional), converted to `T`.
    public func attributeArray<T: HDF5Scalar>(_ name: String, as type: T.Type) throws -> [T] {
        let operation = "cannot read attribute '\(name)' of"
        return try withAttribute(name, operation) { attribute, fileType, count in
            let typeClass = H5Tget_class(fileType)
            guard typeClass == H5T_INTEGER || typeClass == H5T_FLOAT else {
                throw location.error(operation, reason: "it has type \(HDF5ElementType(typeID: fileType)), "
                                     + "expected a number")
            }
            return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    try checked(H5Aread(attribute, T.nativeTypeID, buffer.baseAddress!), location, operation)
                }
                initialized = count
            }
        }
    }

    /// The string attribute `name` (fixed- or variable-length, one string).
    public func stringAttribute(_ name: String) throws -> String {
        let operation = "cannot read attribute '\(name)' of"
        return try withAttribute(name, operation) { attribute, fileType, count in
            guard H5Tget_class(fileType) == H5T_STRING else {
                throw location.error(operation, reason: "it has type \(HDF5ElementType(typeID: fileType)), "
                                     + "expected a string")
            }
            guard count == 1 else {
                throw location.error(operation, reason: "it holds \(count) strings, expected one")
            }
            return try readSingleString(fileType: fileType, location, operation) { memoryType, buffer in
                H5Aread(attribute, memoryType, buffer)
            }
        }
    }

    /// Sets attribute `name` to the scalar `value`, stored as `T.hdf5ElementType`.
    public func setAttribute<T: HDF5Scalar>(_ name: String, _ value: T) throws {
        try withUnsafePointer(to: value) { pointer in
            try writeAttribute(name, memoryType: T.nativeTypeID, dims: nil, data: UnsafeRawPointer(pointer))
        }
    }

    /// Sets attribute `name` to the 1-D array `array`, stored as `T.hdf5ElementType`.
    public func setAttribute<T: HDF5Scalar>(_ name: String, array: [T]) throws {
        try array.withUnsafeBufferPointer { buffer in
            // A zero-length array still needs a valid (never read) pointer.
            var placeholder: T? = nil
            if let base = buffer.baseAddress {
                try writeAttribute(name, memoryType: T.nativeTypeID, dims: [hsize_t(array.count)],
                                   data: UnsafeRawPointer(base))
            } else {
                try withUnsafePointer(to: &placeholder) { pointer in
                    try writeAttribute(name, memoryType: T.nativeTypeID, dims: [0],
                                       data: UnsafeRawPointer(pointer))
                }
            }
        }
    }

    /// Sets attribute `name` to the variable-length UTF-8 string `string` (what h5py writes for a
    /// Python `str`; no size limit).
    public func setAttribute(_ name: String, string: String) throws {
        let operation = "cannot write attribute '\(name)' of"
        _ = try location.id(for: operation)
        let stringType = try makeVariableLengthStringType(location, operation)
        defer { _ = H5Tclose(stringType) }
        try withCStringPointer(string) { data in
            try writeAttribute(name, memoryType: stringType, dims: nil, data: data)
        }
    }

    /// Deletes attribute `name`; throws if there is none.
    public func deleteAttribute(_ name: String) throws {
        let operation = "cannot delete attribute '\(name)' of"
        let id = try location.id(for: operation)
        try checked(H5Adelete(id, name), location, operation)
    }

    // MARK: - Helpers

    /// Opens attribute `name` and runs `body(attributeID, fileTypeID, elementCount)`.
    private func withAttribute<R>(_ name: String, _ operation: String,
                                  _ body: (hid_t, hid_t, Int) throws -> R) throws -> R {
        let id = try location.id(for: operation)
        let attribute = try checked(H5Aopen(id, name, ff_h5p_default()), location, operation)
        defer { _ = H5Aclose(attribute) }
        let fileType = try checked(H5Aget_type(attribute), location, operation)
        defer { _ = H5Tclose(fileType) }
        let space = try checked(H5Aget_space(attribute), location, operation)
        defer { _ = H5Sclose(space) }
        let count = try checked(H5Sget_simple_extent_npoints(space), location, operation)
        return try body(attribute, fileType, Int(count))
    }

    /// (Re)creates attribute `name` with dataspace `dims` (nil = scalar) and the file type equal to
    /// `memoryType`, and writes `data`.
    private func writeAttribute(_ name: String, memoryType: hid_t, dims: [hsize_t]?,
                                data: UnsafeRawPointer) throws {
        let operation = "cannot write attribute '\(name)' of"
        let id = try location.id(for: operation)
        if try checked(H5Aexists(id, name), location, operation) > 0 {
            try checked(H5Adelete(id, name), location, operation)
        }
        let space = try checked(dims.map { H5Screate_simple(Int32($0.count), $0, nil) } ?? H5Screate(H5S_SCALAR),
                                location, operation)
        defer { _ = H5Sclose(space) }
        let attribute = try checked(H5Acreate2(id, name, memoryType, space, ff_h5p_default(), ff_h5p_default()),
                                    location, operation)
        defer { _ = H5Aclose(attribute) }
        try checked(H5Awrite(attribute, memoryType, data), location, operation)
    }
}

/// Decodes bytes of C characters as UTF-8 (invalid sequences become U+FFFD).
func decodeUTF8<C: Collection>(_ characters: C) -> String where C.Element == CChar {
    String(decoding: characters.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A name HDF5 hands out in two calls: `fetch(nil, 0)` returns its length, then
/// `fetch(buffer, length + 1)` copies it (NUL-terminated). Used for link and attribute names.
func readName(_ location: HDF5Location, _ operation: @autoclosure () -> String,
              _ fetch: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
    let length = try checked(fetch(nil, 0), location, operation())
    var buffer = [CChar](repeating: 0, count: length + 1)
    try checked(buffer.withUnsafeMutableBufferPointer { fetch($0.baseAddress, $0.count) }, location, operation())
    return decodeUTF8(buffer.prefix(length))
}
