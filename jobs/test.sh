#!/usr/bin/env bash
# The project's test command: checks the module graph in Package.swift against the imports,
# builds, checks the release binary's two kernel builds (AVX2 code
# isolated, bitwise-equal training), runs every Swift test (unit, golden, HDF5, mpirun
# end-to-end), then the pre-emption test on a real local Slurm cluster and the multi-node tests
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
swift test "$@"
if [ $# -eq 0 ]; then
  jobs/slurm/requeue-test.sh
  jobs/cluster/multinode-test.sh
fi
