import Datasets
import FlowModel
import Foundation
import MPIComm
import Optimizers
import TensorKernels

/// What a run will need before it allocates anything: parameters, FLOPs, memory per rank by
/// kind, a step-time floor from this machine's measured GEMM rate, and whether the ranks on this
/// node fit in its memory. Printed at the start of every run and by `flowformer train --dry-run`.
///
/// Memory per rank:
/// - weights, gradients, activations and workspaces: the model's own allocations, counted by
///   building it under a `TensorCensus` (address space only) — not a formula beside the model;
/// - optimizer state: AdamW 2, SGD 1 Float per parameter (per parameter of this rank's shard
///   when sharded);
/// - prefetch buffers: the loaders' batches (two per loader) and read staging
///   (`DatasetSplit.batchBufferBytes`);
/// - communication buffers: none of the trainer's own (gradients are reduced in place); MPI's
///   shared-memory segments are part of the runtime;
/// - runtime: this process's resident memory when the plan is made (libraries, MPI, BLAS
///   buffers after a GEMM) plus a fixed allowance for what the libraries allocate later
///   (`runtimeGrowthBytes`: HDF5 caches, thread stacks, the checkpoint writer).
struct RunPlan {
    /// The plan's figures, bytes per rank unless noted.
    var parameterCount = 0
    var weights = 0
    var gradients = 0
    var optimizerState = 0
    var optimizerStateSharded = false
    var activations = 0
    var workspaces = 0
    var prefetch = 0
    var communication = 0
    var runtime = 0
    /// Matrix FLOPs of one optimizer step, all ranks together.
    var flopsPerStep = 0.0
    var worldSize = 1
    var ranksPerNode = 1
    var gemmGflops = 0.0
    var node = NodeMemory(availableBytes: 0, source: "")
    var microBatch = 1

    /// Allowance for memory the libraries take after the plan (HDF5 chunk caches and metadata,
    /// the prefetch thread, the checkpoint writer), measured on the test configurations:
    /// peak RSS minus the plan's other rows stayed under this.
    static let runtimeGrowthBytes = 10 << 20

    var total: Int {
        weights + gradients + optimizerState + activations + workspaces + prefetch + communication + runtime
    }

    /// Memory the ranks of this node still need beyond what they hold now.
    var nodeNeed: Int { ranksPerNode * (total - residentAtPlan) }
    var residentAtPlan = 0
    var fits: Bool { nodeNeed <= node.availableBytes }

    /// Step-time floor: this rank's share of the step's matrix FLOPs at the measured GEMM rate.
    var stepSecondsFloor: Double { flopsPerStep / Double(worldSize) / max(gemmGflops * 1e9, 1) }

    /// Measures the plan on this rank (a collective: every rank calls it).
    static func measure(config: RunConfig, trainSplit: DatasetSplit, validationSplit: DatasetSplit?,
                        communicator: Communicator) throws -> RunPlan {
        var plan = RunPlan()
        plan.worldSize = communicator.size
        plan.ranksPerNode = try communicator.ranksOnThisNode()
        plan.microBatch = config.train.microBatch
        let census = TensorCensus.measure {
            FlowformerModel<Float>(config: config.model, maxBatch: config.train.microBatch,
                                   precision: config.train.precision)
        }
        plan.weights = census[.parameters] ?? 0
        plan.gradients = census[.gradients] ?? 0
        plan.activations = census[.activations] ?? 0
        plan.workspaces = census[.workspaces] ?? 0
        plan.parameterCount = plan.weights / MemoryLayout<Float>.stride
        let statesPerParameter = config.train.optimizer == .adamw ? 2 : 1
        if config.train.shardOptimizer && communicator.size > 1 {
            // The largest shard (shards are whole norm chunks: they differ by at most one chunk)
            // and the chunk sums of the norm; the reduce-scatter works in place.
            let layout = ShardLayout(count: plan.parameterCount)
            let largest = (0 ..< communicator.size).map { layout.shard(ofRank: $0, worldSize: communicator.size).count }.max() ?? 0
            plan.optimizerStateSharded = true
            plan.optimizerState = statesPerParameter * largest * MemoryLayout<Float>.stride
            plan.communication = layout.chunkCount * MemoryLayout<Double>.stride
            if communicator.isRoot {
                // Rank 0 gathers and scatters checkpoint state one entry at a time.
                plan.communication += (ParameterTable.flowformer(config.model).entries.map(\.count).max() ?? 0) * MemoryLayout<Float>.stride
            }
        } else {
            plan.optimizerState = statesPerParameter * plan.parameterCount * MemoryLayout<Float>.stride
        }

        let length = config.model.kind == .image ? 0 : config.model.seqLen
        let local = trainSplit.batchBufferBytes(capacity: config.train.globalBatch / communicator.size,
                                                sequenceLength: length)
        plan.prefetch = 2 * local.batch + local.staging
        if let validationSplit {
            let validation = validationSplit.batchBufferBytes(capacity: config.train.microBatch, sequenceLength: length)
            plan.prefetch += 2 * validation.batch + validation.staging
        }
        plan.flopsPerStep = ModelFlops.trainingStep(config.model, samples: config.train.globalBatch)
        plan.gemmGflops = GemmProbe.gflops()
        plan.residentAtPlan = ResidentMemory.currentBytes() ?? ResidentMemory.peakBytes()
        plan.runtime = plan.residentAtPlan + runtimeGrowthBytes
        plan.node = NodeMemory.current()
        return plan
    }

    /// The table printed at start and by `--dry-run`.
    var table: String {
        func row(_ name: String, _ bytes: Int, _ note: String = "") -> String {
            name.padding(toLength: 34, withPad: " ", startingAt: 0)
                + formatBytes(bytes).leftPadded(to: 12) + (note.isEmpty ? "" : "   " + note)
        }
        let count = parameterCount
        var lines = [
            "run plan: \(count.grouped) parameters, \(String(format: "%.3g", flopsPerStep)) matrix FLOPs per step "
                + "(\(String(format: "%.3g", flopsPerStep / Double(worldSize))) per rank), \(worldSize) rank(s), \(ranksPerNode) on this node",
            "  memory per rank",
            "  " + row("weights", weights, "float32"),
            "  " + row("gradients", gradients, "float32"),
            "  " + row("optimizer state", optimizerState, optimizerStateSharded ? "sharded: 1/\(worldSize) of the state" : "replicated on every rank"),
            "  " + row("activations saved for backward", activations, "micro-batch \(microBatch)"),
            "  " + row("workspaces", workspaces, "gradient scratch, per-thread attention buffers"),
            "  " + row("prefetch buffers", prefetch, "two batches per loader + read staging"),
            "  " + row("communication buffers", communication,
                       communication == 0 ? "gradients reduced in place" : "norm chunk sums, rank 0's checkpoint entry buffer; reduced in place"),
            "  " + row("runtime", runtime, "resident now \(formatBytes(residentAtPlan)) + \(formatBytes(Self.runtimeGrowthBytes)) allowance"),
            "  " + row("total per rank", total),
            "  step time ≥ " + String(format: "%.3g s", stepSecondsFloor)
                + String(format: " at the measured GEMM rate of %.1f GFLOP/s per rank (matrix FLOPs only)", gemmGflops),
            "  this node: \(ranksPerNode) rank(s) need \(formatBytes(nodeNeed)) more; \(formatBytes(node.availableBytes)) available (\(node.source)): "
                + (fits ? "fits" : "DOES NOT FIT"),
        ]
        if !fits { lines.append("  " + advice) }
        return lines.joined(separator: "\n")
    }

    /// One line for a run that does not fit: both figures and what would make it fit.
    var refusal: String {
        "run needs \(formatBytes(total)) per rank × \(ranksPerNode) rank(s) on this node "
            + "(\(formatBytes(nodeNeed)) beyond what they hold now) but the node has \(formatBytes(node.availableBytes)) available (\(node.source)); "
            + advice + "; or set train.memory_check: false to run anyway"
    }

    /// What would make the run fit: fewer ranks on this node, a smaller micro-batch.
    var advice: String {
        let perRank = total - residentAtPlan
        var options: [String] = []
        let ranksThatFit = perRank > 0 ? node.availableBytes / perRank : ranksPerNode
        if ranksThatFit >= 1 && ranksThatFit < ranksPerNode {
            options.append("at most \(ranksThatFit) rank(s) per node")
        }
        // Activations and workspaces grow about linearly with the micro-batch.
        let perSample = (activations + workspaces) / max(microBatch, 1)
        let fixed = perRank - (activations + workspaces)
        if perSample > 0, microBatch > 1 {
            let budget = node.availableBytes / max(ranksPerNode, 1) - fixed
            let micro = budget / perSample
            if micro >= 1 && micro < microBatch { options.append("train.micro_batch ≤ \(micro)") }
        }
        if optimizerState > 0 && !optimizerStateSharded && worldSize > 1 {
            let saved = optimizerState - optimizerState / worldSize
            options.append("train.shard_optimizer: true (saves about \(formatBytes(saved)) per rank)")
        }
        if options.isEmpty {
            options.append("the model alone (\(formatBytes(weights + gradients + optimizerState)) of weights, gradients and optimizer state) needs a node with more memory or a smaller model")
        }
        return "to fit: " + options.joined(separator: ", or ")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

extension Int {
    /// 1234567 → "1,234,567".
    var grouped: String {
        let digits = String(self.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (self < 0 ? "-" : "") + out
    }
}
