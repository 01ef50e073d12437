#if canImport(Glibc)
import Glibc
#endif

/// The algorithm of Open MPI's non-blocking all-reduce, which sums every gradient bucket.
///
/// Open MPI 4.1's `MPI_Iallreduce` (the libnbc component) chooses its algorithm by a rule that
/// takes the binomial tree for every in-place call and for fewer than 4 ranks:
///
///     binomial   reduce up a tree to rank 0, then broadcast down it:
///                t ≈ 2·⌈log₂ p⌉·(α + B/β)      — rank 0's link carries the whole buffer 2·log₂ p times
///     ring       reduce-scatter then all-gather around a ring, p−1 steps each:
///                t ≈ 2(p−1)·α + 2(p−1)/p · B/β — each link carries 2(p−1)/p·B, the lower bound
///
/// The trainer reduces its buckets in place, so it would always get the tree: on 2 nodes that is
/// twice the wire time of the ring (measured on the 1 Gbit/s virtual cluster: a 2-node LM step's
/// communication wait 0.20 s with the tree, 0.09–0.11 s with the ring; docs/CLUSTER.md §6).
/// Unless the user chose an algorithm, this selects the ring before `MPI_Init`, through the
/// environment variable Open MPI reads for the MCA parameter `coll_libnbc_iallreduce_algorithm`
/// (`mpirun --mca coll_libnbc_iallreduce_algorithm N` sets that same variable, so it wins; so does
/// `export OMPI_MCA_coll_libnbc_iallreduce_algorithm=N` under `srun`). Values: 1 ring,
/// 2 binomial, 3 Rabenseifner (recursive halving, fewer steps on many nodes), 4 recursive doubling.
extension MPIRuntime {
    /// The MCA parameter's environment variable.
    public static let allReduceAlgorithmVariable = "OMPI_MCA_coll_libnbc_iallreduce_algorithm"

    /// The algorithm chosen when the user has not: 1, the ring.
    public static let defaultAllReduceAlgorithm = "1"

    /// Sets `allReduceAlgorithmVariable` to the ring unless it is already set (must run before
    /// `MPI_Init`, which reads it).
    static func selectAllReduceAlgorithmUnlessChosen() {
        guard getenv(allReduceAlgorithmVariable) == nil else { return }
        setenv(allReduceAlgorithmVariable, defaultAllReduceAlgorithm, 0)
    }

    /// The non-blocking all-reduce algorithm in effect, by name (for benchmarks' headers).
    public static var allReduceAlgorithmName: String {
        let value = getenv(allReduceAlgorithmVariable).map { String(cString: $0) } ?? "0"
        switch value {
        case "0": return "Open MPI's rule (binomial in place)"
        case "1": return "ring"
        case "2": return "binomial"
        case "3": return "Rabenseifner"
        case "4": return "recursive doubling"
        default: return "libnbc algorithm \(value)"
        }
    }
}

