import _CHDF5

/// The element type of a dataset or attribute as stored in the file.
///
/// The six types the project reads and writes have their own case; anything else (int8, uint32,
/// strings, compounds, …) is `.other` with a short name such as `"int8"` or `"string"`.
public enum HDF5ElementType: Hashable, Sendable, CustomStringConvertible {
    case uint8, uint16, int32, int64, float32, float64
    case other(String)

    /// numpy-style name: `uint8`, `float32`, …
    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .other(let name): return name
        }
    }

    /// Bytes per element for the six known types, nil for `.other`.
    public var byteCount: Int? {
        switch self {
        case .uint8: return 1
        case .uint16: return 2
        case .int32, .float32: return 4
        case .int64, .float64: return 8
        case .other: return nil
        }
    }

    /// HDF5's native memory type for the known cases (library-owned id: never closed).
    var nativeTypeID: hid_t? {
        switch self {
        case .uint8: return ff_h5t_native_uint8()
        case .uint16: return ff_h5t_native_uint16()
        case .int32: return ff_h5t_native_int32()
        case .int64: return ff_h5t_native_int64()
        case .float32: return ff_h5t_native_float()
        case .float64: return ff_h5t_native_double()
        case .other: return nil
        }
    }

    /// Classifies a file or memory datatype id.
    init(typeID: hid_t) {
        let size = H5Tget_size(typeID)
        switch H5Tget_class(typeID) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(typeID) == H5T_SGN_2
            switch (signed, size) {
            case (false, 1): self = .uint8
            case (false, 2): self = .uint16
            case (true, 4): self = .int32
            case (true, 8): self = .int64
            default: self = .other("\(signed ? "int" : "uint")\(size * 8)")
            }
        case H5T_FLOAT:
            switch size {
            case 4: self = .float32
            case 8: self = .float64
            default: self = .other("float\(size * 8)")
            }
        case H5T_STRING: self = .other("string")
        case H5T_COMPOUND: self = .other("compound")
        case H5T_ENUM: self = .other("enum")
        case H5T_ARRAY: self = .other("array")
        case H5T_VLEN: self = .other("vlen")
        case H5T_BITFIELD: self = .other("bitfield")
        case H5T_OPAQUE: self = .other("opaque")
        case H5T_REFERENCE: self = .other("reference")
        case H5T_TIME: self = .other("time")
        default: self = .other("unknown")
        }
    }
}

/// A Swift number type that maps to one HDF5 native type; HDF5 converts between it and the stored
/// type on read and write (integers ↔ floats, widths), following HDF5's conversion rules.
///
/// Conformances: `UInt8`, `UInt16`, `Int32`, `Int64`, `Int` (stored as int64), `Float`, `Double`.
/// Other types must not conform: the module reads and writes their memory as the type named here.
public protocol HDF5Scalar: BitwiseCopyable {
    /// The HDF5 element type with the same memory layout as `Self`.
    static var hdf5ElementType: HDF5ElementType { get }
}

extension UInt8: HDF5Scalar { public static var hdf5ElementType: HDF5ElementType { .uint8 } }
extension UInt16: HDF5Scalar { public static var hdf5ElementType: HDF5ElementType { .uint16 } }
extension Int32: HDF5Scalar { public static var hdf5ElementType: HDF5ElementType { .int32 } }
extension Int64: HDF5Scalar { public static var hdf5ElementType: HDF5ElementType { .int64 } }
extension Int: HDF5Scalar {
    public static var hdf5ElementType: HDF5ElementType {
        MemoryLayout<Int>.size == 8 ? .int64 : .int32
    }
}
extension Float: HDF5Scalar { public static var hdf5ElementType: HDF5ElementType { .float32 } }
extension Double: HDF5Scalar { public static var hdf5ElementType: HDF5ElementType { .float64 } }

extension HDF5Scalar {
    /// HDF5's native type id for `Self` (library-owned: never closed).
    static var nativeTypeID: hid_t {
        guard let id = hdf5ElementType.nativeTypeID,
              hdf5ElementType.byteCount == MemoryLayout<Self>.stride else {
            preconditionFailure("\(Self.self) declares HDF5 type \(hdf5ElementType), "
                + "which does not match its \(MemoryLayout<Self>.stride)-byte layout")
        }
        return id
    }
}
