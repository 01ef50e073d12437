// swift-tools-version:6.0
// Flowformer trainer: data-parallel training of Flow-Attention Transformers over MPI.
//
// Module graph: each module and the modules it imports (and declares below); imports point one
// way only, down this list. jobs/check-module-graph.sh checks this table against the sources.
//
//   module               imports                                        what
//   _CMPI _CHDF5 _COpenBLAS _CCPUFeatures                               C shims (module map + header), a CPUID probe
//   _CBFloat16Gemm                                                       the bf16 GEMM (C, VDPBF16PS; AVX512_BF16 CPUs only)
//   TensorKernels        _COpenBLAS _CCPUFeatures                       tensors, kernels, RNG, ParameterTable (the flat-buffer layout)
//   TensorKernelsAVX2    TensorKernels                                  the hot Float loops rebuilt for AVX2
//   TensorKernelsAVX512  -                                              the AVX-512 GEMM
//   MPIComm              _CMPI                                          MPI binding, watchdog, GradientReducer (fp32 or bf16 on the wire)
//   HDF5IO               _CHDF5                                         HDF5 binding
//   FlowModel            TensorKernels TensorKernelsAVX2 TensorKernelsAVX512 _CBFloat16Gemm   the model (no MPI, no HDF5)
//   Optimizers           TensorKernels                                  AdamW, SGD, clipping, schedules
//   Datasets             HDF5IO TensorKernels                           dataset files, data order, loaders
//   Checkpoints          HDF5IO TensorKernels Optimizers                checkpoint files
//   Training             MPIComm TensorKernels FlowModel Optimizers Datasets Checkpoints HDF5IO Yams   the coordinator; predict's output file
//   Benchmarks           MPIComm TensorKernels TensorKernelsAVX512 FlowModel Optimizers Datasets Training   `flowformer bench`
//   flowformer           MPIComm HDF5IO TensorKernels FlowModel Datasets Checkpoints Training Benchmarks ArgumentParser   the command line
import PackageDescription

// Release builds optimise across modules: the model is generic over its scalar type
// (`FlowformerModel<Float>` for training, `<Double>` for gradient tests) and is instantiated by
// the trainer in another module; without cross-module optimisation its layers would run as
// unspecialised generic code (measured 4.2× slower on the image model).
let swiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

// Everything is compiled for the architecture's baseline, so one binary runs on every node. Two
// modules are compiled for more: the hot Float loops again for x86-64-v3 (AVX2), and the AVX-512
// GEMM for x86-64-v4; the model picks them at run time by CPUID (TensorKernels/KernelVariant.swift,
// FLOWFORMER_KERNELS overrides). jobs/check-kernels.sh proves no AVX code leaks elsewhere.
#if arch(x86_64)
let avx2Settings: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v4"])]
// The bf16 GEMM (C, VDPBF16PS intrinsics): AVX-512 with the BF16 extension, chosen at run time by
// CPUID (KernelVariant.cpuSupportsAVX512BF16) like the modules above.
let bf16CSettings: [CSetting] = [.unsafeFlags(["-march=x86-64-v4", "-mavx512bf16", "-O3"])]
#else
let avx2Settings: [SwiftSetting] = []
let avx512Settings: [SwiftSetting] = []
let bf16CSettings: [CSetting] = []
#endif

let package = Package(
    name: "Flowformer",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "flowformer", targets: ["flowformer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C shims
        .systemLibrary(name: "_CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "_CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "_COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "_CCPUFeatures"),   // CPUID: can this CPU run the x86-64-v3 kernels?
        .target(name: "_CBFloat16Gemm", exclude: ["README.md"], cSettings: bf16CSettings),   // VDPBF16PS GEMM (AVX512_BF16 only)

        // Bindings and kernels
        .target(name: "TensorKernels", dependencies: ["_COpenBLAS", "_CCPUFeatures"], exclude: ["README.md"],
                swiftSettings: swiftSettings),
        .target(name: "TensorKernelsAVX2", dependencies: ["TensorKernels"], exclude: ["README.md"],
                swiftSettings: avx2Settings),
        .target(name: "TensorKernelsAVX512", exclude: ["README.md"], swiftSettings: avx512Settings),
        .target(name: "MPIComm", dependencies: ["_CMPI"], exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "HDF5IO", dependencies: ["_CHDF5"], exclude: ["README.md"], swiftSettings: swiftSettings),

        // Model and optimisation
        .target(name: "FlowModel", dependencies: ["TensorKernels", "TensorKernelsAVX2", "TensorKernelsAVX512", "_CBFloat16Gemm"], exclude: ["README.md", "Attention/README.md"],
                swiftSettings: swiftSettings),
        .target(name: "Optimizers", dependencies: ["TensorKernels"], exclude: ["README.md"],
                swiftSettings: swiftSettings),

        // Files
        .target(name: "Datasets", dependencies: ["HDF5IO", "TensorKernels"], exclude: ["README.md"],
                swiftSettings: swiftSettings),
        .target(name: "Checkpoints", dependencies: ["HDF5IO", "TensorKernels", "Optimizers"], exclude: ["README.md"],
                swiftSettings: swiftSettings),

        // Measurement (`flowformer bench`)
        .target(name: "Benchmarks",
                dependencies: ["TensorKernels", "TensorKernelsAVX512", "FlowModel", "Optimizers", "MPIComm", "Datasets",
                               "Training"],
                exclude: ["README.md"],
                swiftSettings: swiftSettings),

        // Coordinator and command
        .target(name: "Training",
                dependencies: ["MPIComm", "TensorKernels", "FlowModel", "Optimizers", "Datasets", "Checkpoints", "HDF5IO",
                               .product(name: "Yams", package: "Yams")],
                exclude: ["README.md", "Config/README.md"],
                swiftSettings: swiftSettings),
        .executableTarget(name: "flowformer",
                          dependencies: ["Training", "MPIComm", "HDF5IO", "Checkpoints", "Datasets", "FlowModel", "TensorKernels",
                                         "Benchmarks",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          exclude: ["README.md"],
                          swiftSettings: swiftSettings),

        // Tests
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorKernelsTests", dependencies: ["TensorKernels", "TestSupport"]),
        .testTarget(name: "TensorKernelsAVX2Tests", dependencies: ["TensorKernels", "TensorKernelsAVX2", "TensorKernelsAVX512",
                                                                  "TestSupport"]),
        .testTarget(name: "MPICommTests", dependencies: ["MPIComm", "TestSupport", "flowformer"]),
        .testTarget(name: "HDF5IOTests", dependencies: ["HDF5IO", "_CHDF5", "TestSupport"]),
        .testTarget(name: "FlowModelTests", dependencies: ["FlowModel", "TensorKernels", "HDF5IO", "TensorKernelsAVX512", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "OptimizersTests", dependencies: ["Optimizers", "TensorKernels"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "HDF5IO", "TensorKernels", "TestSupport"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "HDF5IO", "TensorKernels", "TestSupport"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "FlowModel", "TensorKernels", "Training", "flowformer",
                                                           "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Checkpoints", "Datasets", "HDF5IO", "FlowModel", "Optimizers", "TensorKernels",
                                                         "TestSupport", "flowformer"]),
        .testTarget(name: "ReliabilityTests",
                    dependencies: ["Datasets", "Checkpoints", "HDF5IO", "FlowModel", "TensorKernels", "TestSupport", "flowformer"]),
    ],
    swiftLanguageModes: [.v5]
)
