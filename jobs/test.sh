#!/usr/bin/env bash
# The project's test command: builds and runs every test (unit, golden, mpirun, HDF5, Slurm).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
swift build -c release --product flowformer
swift test "$@"
