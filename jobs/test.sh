#!/usr/bin/env bash
# The project's test command: checks the module graph in Package.swift against the imports,
# builds, checks the release binary's two kernel builds (AVX2 code
# isolated, bitwise-equal training), runs every Swift test (unit, golden, HDF5, and mpirun
# end-to-end on the release binary), then the experiment machinery (TensorBoard events across a resume, run.sh --quick,
# plot.py), the pre-emption test on a real local Slurm cluster and the multi-node tests
# on a virtual cluster of network namespaces (jobs/cluster/multinode-test.sh).
#
#   jobs/test.sh                 # everything
#   jobs/test.sh --filter X      # only the Swift tests matching X (no Slurm or multi-node test)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs/check-module-graph.sh
swift build -c release --product flowformer
if [ $# -eq 0 ]; then
  jobs/check-kernels.sh
fi
# The end-to-end tests launch the release binary just built (what users run; the debug one is
# several times slower), and every temporary file of the Swift tests goes to one scratch
# directory, removed at the end.
FLOWFORMER_BUILD_DIR=$(swift build -c release --show-bin-path)
export FLOWFORMER_BUILD_DIR
scratch=$(mktemp -d /tmp/flowformer-tests.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
TMPDIR=$scratch swift test "$@"
if [ $# -eq 0 ]; then
  jobs/experiments/test.sh
  jobs/slurm/requeue-test.sh
  jobs/cluster/multinode-test.sh
fi
