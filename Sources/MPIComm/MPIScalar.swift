import _CMPI

/// An MPI datatype handle (`MPI_Datatype`), kept opaque: only this module creates them.
public struct MPIDatatype {
    let handle: MPI_Datatype?
}

/// A plain value type MPI moves as raw bytes: what `broadcast` accepts.
/// Conformances: `Float`, `Double`, `Int32`, `Int64`, `UInt8`.
public protocol MPIElement: BitwiseCopyable {
    /// The matching MPI datatype (`MPI_FLOAT`, `MPI_DOUBLE`, `MPI_INT32_T`, …).
    static var mpiDatatype: MPIDatatype { get }
}

/// An `MPIElement` that MPI can also reduce with sum, max and min: what `allReduce` accepts.
/// Conformances: `Float`, `Double`, `Int32`, `Int64`.
public protocol MPIScalar: MPIElement, Comparable {}

extension Float: MPIScalar {
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: ff_mpi_float()) }
}

extension Double: MPIScalar {
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: ff_mpi_double()) }
}

extension Int32: MPIScalar {
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: ff_mpi_int32()) }
}

extension Int64: MPIScalar {
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: ff_mpi_int64()) }
}

extension UInt8: MPIElement {
    public static var mpiDatatype: MPIDatatype { MPIDatatype(handle: ff_mpi_uint8()) }
}

/// A reduction applied element-wise across the ranks r of a communicator:
/// result[i] = op over r of x_r[i].
public enum MPIReduceOp: Sendable, CustomStringConvertible, CaseIterable {
    /// Σ_r x_r[i]. For floating point the summation order is MPI's choice, but every rank
    /// receives the same bits. Integer sums wrap on overflow.
    case sum
    /// max_r x_r[i].
    case max
    /// min_r x_r[i].
    case min

    var handle: MPI_Op? {
        switch self {
        case .sum: return ff_mpi_sum()
        case .max: return ff_mpi_max()
        case .min: return ff_mpi_min()
        }
    }

    public var description: String {
        switch self {
        case .sum: return "sum"
        case .max: return "max"
        case .min: return "min"
        }
    }
}
