import _CHDF5

/// Text stored as HDF5 strings: one variable-length UTF-8 string per attribute or dataset when
/// writing (what h5py writes for a Python `str`); fixed- or variable-length when reading.
extension HDF5Group {
    /// Creates a scalar string dataset at `path` holding `string` (e.g. a configuration file),
    /// creating missing intermediate groups.
    @discardableResult
    public func createStringDataset(_ path: String, string: String) throws -> HDF5Dataset {
        let objectPath = location.absolutePath(path)
        let operation = "cannot create dataset"
        let parentID = try location.id(for: operation)
        let stringType = try makeVariableLengthStringType(location, operation, at: objectPath)
        defer { _ = H5Tclose(stringType) }
        let space = try checked(H5Screate(H5S_SCALAR), location, operation, at: objectPath)
        defer { _ = H5Sclose(space) }
        let linkList = try checked(H5Pcreate(ff_h5p_link_create()), location, operation, at: objectPath)
        defer { _ = H5Pclose(linkList) }
        try checked(H5Pset_create_intermediate_group(linkList, 1), location, operation, at: objectPath)
        let id = try checked(H5Dcreate2(parentID, path, stringType, space, linkList, ff_h5p_default(),
                                        ff_h5p_default()),
                             location, operation, at: objectPath)
        let dataset = try HDF5Dataset(location: location.file.adopt(id, kind: .dataset, path: objectPath))
        try withCStringPointer(string) { data in
            _ = try checked(H5Dwrite(id, stringType, ff_h5s_all(), ff_h5s_all(), ff_h5p_default(), data),
                            location, "cannot write dataset", at: objectPath)
        }
        return dataset
    }
}

extension HDF5Dataset {
    /// The text of a string dataset holding one string (fixed- or variable-length).
    public func readString() throws -> String {
        let operation = "cannot read dataset"
        let id = try location.id(for: operation)
        let fileType = try checked(H5Dget_type(id), location, operation)
        defer { _ = H5Tclose(fileType) }
        guard H5Tget_class(fileType) == H5T_STRING else {
            throw location.error(operation, reason: "it has dtype \(elementType), expected a string")
        }
        guard elementCount == 1 else {
            throw location.error(operation, reason: "it holds \(elementCount) strings, expected one")
        }
        return try readSingleString(fileType: fileType, location, operation) { memoryType, buffer in
            H5Dread(id, memoryType, ff_h5s_all(), ff_h5s_all(), ff_h5p_default(), buffer)
        }
    }
}

/// A new variable-length UTF-8 string type; the caller closes it.
func makeVariableLengthStringType(_ location: HDF5Location, _ operation: String,
                                  at path: String? = nil) throws -> hid_t {
    let type = try checked(H5Tcopy(ff_h5t_c_s1()), location, operation, at: path)
    do {
        try checked(H5Tset_size(type, ff_h5t_variable()), location, operation, at: path)
        try checked(H5Tset_cset(type, H5T_CSET_UTF8), location, operation, at: path)
    } catch {
        _ = H5Tclose(type)
        throw error
    }
    return type
}

/// Runs `body` with a pointer to a `char *` that points at `string`'s UTF-8 bytes: the memory
/// layout HDF5 expects for one variable-length string.
func withCStringPointer<R>(_ string: String, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
    try string.withCString { characters in
        var pointer: UnsafePointer<CChar>? = characters
        return try withUnsafePointer(to: &pointer) { try body(UnsafeRawPointer($0)) }
    }
}

/// Reads one string of file type `fileType` (class H5T_STRING) through `read(memoryType, buffer)`,
/// which performs the H5Aread or H5Dread.
///
/// The memory type is built fresh (C characters, the file's size, character set and padding)
/// rather than copied from the file: a damaged file type copied into memory would steer the
/// library's conversion by the damage (the copy of a string type whose character type was
/// corrupted sent HDF5 1.10 into an endless copy).
func readSingleString(fileType: hid_t, _ location: HDF5Location, _ operation: String,
                      read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> String {
    let isVariable = try checked(H5Tis_variable_str(fileType), location, operation) > 0
    let characterSet = H5Tget_cset(fileType)
    guard characterSet == H5T_CSET_ASCII || characterSet == H5T_CSET_UTF8 else {
        throw location.error(operation, reason: "the string's character set \(characterSet.rawValue) is neither ASCII nor UTF-8")
    }
    let padding = H5Tget_strpad(fileType)
    guard padding == H5T_STR_NULLTERM || padding == H5T_STR_NULLPAD || padding == H5T_STR_SPACEPAD else {
        throw location.error(operation, reason: "the string's padding \(padding.rawValue) is not one HDF5 defines")
    }
    if isVariable {
        // The characters of a variable-length string are one byte each; HDF5 sizes its
        // conversion buffers by this without checking it (a damaged size made it fill gigabytes).
        let characterType = try checked(H5Tget_super(fileType), location, operation)
        defer { _ = H5Tclose(characterType) }
        let characterBytes = H5Tget_size(characterType)
        guard characterBytes == 1 else {
            throw location.error(operation, reason: "the file is damaged: the string's characters are \(characterBytes) bytes, not 1")
        }
    }
    let memoryType = try checked(H5Tcopy(ff_h5t_c_s1()), location, operation)
    defer { _ = H5Tclose(memoryType) }
    try checked(H5Tset_size(memoryType, isVariable ? ff_h5t_variable() : H5Tget_size(fileType)), location, operation)
    try checked(H5Tset_cset(memoryType, characterSet), location, operation)
    try checked(H5Tset_strpad(memoryType, padding), location, operation)
    if isVariable {
        var text: UnsafeMutablePointer<CChar>? = nil
        try checked(withUnsafeMutablePointer(to: &text) { read(memoryType, $0) }, location, operation)
        defer { if let text { _ = H5free_memory(text) } }
        return text.map { String(cString: $0) } ?? ""
    }
    let size = H5Tget_size(fileType)
    var bytes = [UInt8](repeating: 0, count: size + 1)
    try checked(bytes.withUnsafeMutableBytes { read(memoryType, $0.baseAddress!) }, location, operation)
    // Null-terminated or null-padded: stop at the first NUL; space-padded: trim the padding.
    var text = bytes.prefix(size).prefix { $0 != 0 }
    if H5Tget_strpad(fileType) == H5T_STR_SPACEPAD {
        while text.last == UInt8(ascii: " ") { text = text.dropLast() }
    }
    return String(decoding: text, as: UTF8.self)
}
