/// The call a sample-parallel attention core's workers are running: set by `forward` or
/// `backward` for the duration of `WorkerPool.run`, read by each task (one batch element).
enum AttentionCall<Scalar> {
    case forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>, values: UnsafePointer<Scalar>,
                 output: UnsafeMutablePointer<Scalar>)
    case backward(outputGradient: UnsafePointer<Scalar>, queryGradient: UnsafeMutablePointer<Scalar>,
                  keyGradient: UnsafeMutablePointer<Scalar>, valueGradient: UnsafeMutablePointer<Scalar>)
}
