import TensorKernels

/// An operand of a matrix product as it is stored: Scalar values, or bfloat16 bit patterns.
///
/// bf16 storage exists for Float models in bf16 (`MatmulPrecision.bf16`) only: a product rounds
/// its operands to bf16 anyway, so an activation that feeds nothing but products can be stored
/// rounded (half the bytes) and give the same product, bit for bit. Anything else reading a
/// `.bfloat16` operand is a programmer error.
enum ProductOperand<Scalar: TensorScalar> {
    case values(UnsafePointer<Scalar>)
    case bfloat16(UnsafePointer<UInt16>)

    /// The operand from element `offset` on (element, not byte, arithmetic for either storage).
    @inline(__always)
    func advanced(by offset: Int) -> ProductOperand {
        switch self {
        case .values(let pointer): return .values(pointer + offset)
        case .bfloat16(let bits): return .bfloat16(bits + offset)
        }
    }

    /// The Scalar values; a bf16-stored operand here is a programmer error (`what` names the caller).
    @inline(__always)
    func values(for what: @autoclosure () -> String) -> UnsafePointer<Scalar> {
        switch self {
        case .values(let pointer): return pointer
        case .bfloat16: preconditionFailure("\(what()): a bf16-stored operand outside a bf16 product")
        }
    }

    /// The same operand typed as Float (Scalar must be Float).
    @inline(__always)
    var asFloat: ProductOperand<Float> {
        switch self {
        case .values(let pointer): return .values(pointer.asFloat)
        case .bfloat16(let bits): return .bfloat16(bits)
        }
    }
}

/// An activation kept for backward that only feeds Linear products (the inputs of the q/k/v
/// projections, fc1 and fc2): `[shape]` Scalars, or in a bf16 Float model bf16 bit patterns,
/// which halve its memory and the bytes each product reads. The storage is chosen once, at init.
final class SavedProductInput<Scalar: TensorScalar> {
    let count: Int
    /// The Scalar storage [shape], or nil when stored as bf16.
    let values: Tensor<Scalar>?
    /// The bf16 bit patterns [count], or nil when stored as Scalars.
    let bits: UnsafeMutablePointer<UInt16>?
    /// Owns the bf16 storage: a Float tensor of ⌈count / 2⌉ elements, rebound to UInt16 (so the
    /// allocation, its huge-page advice and the memory census are Tensor's).
    private let bitsOwner: Tensor<Float>?

    init(_ shape: Int..., bfloat16: Bool) {
        count = shape.reduce(1, *)
        if bfloat16 && Scalar.self == Float.self {
            let owner = Tensor<Float>((count + 1) / 2)
            bits = UnsafeMutableRawPointer(owner.pointer).bindMemory(to: UInt16.self, capacity: max(count, 1))
            bitsOwner = owner
            values = nil
        } else {
            values = Tensor(shape: shape)
            bits = nil
            bitsOwner = nil
        }
    }

    /// The stored activation as a product operand.
    var operand: ProductOperand<Scalar> {
        if let bits { return .bfloat16(UnsafePointer(bits)) }
        guard let values else { preconditionFailure("SavedProductInput holds neither values nor bits") }
        return .values(UnsafePointer(values.pointer))
    }

    /// Zeroes elements `start ..< count` (rows past a partial batch).
    func zero(from start: Int) {
        if let bits { (bits + start).update(repeating: 0, count: count - start) }
        if let values { (values.pointer + start).update(repeating: 0, count: count - start) }
    }
}
