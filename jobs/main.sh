#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build in release, pack Fashion-MNIST,
# and train the image Flowformer on it with 2 MPI ranks; then evaluate on the test split.
#
#   jobs/main.sh                       # Fashion-MNIST (jobs/configs/fashion-mnist.yaml)
#   jobs/main.sh --set train.epochs=1  # extra arguments go to `flowformer train`
#
# Re-running resumes from the newest checkpoint in runs/fashion-mnist (or finishes at once when
# the run is complete); `--no-resume` refuses to reuse the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs/setup.sh
swift build -c release --product flowformer 2>&1 | grep -vE "^\[|Compiling|Building|Write|Emitting|Linking" || true
bin=$(swift build -c release --show-bin-path)/flowformer
[ -f datasets/out/fashion-mnist-train.h5 ] || datasets/pack.sh fashion-mnist
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpirun -np 2 "$bin" train --config jobs/configs/fashion-mnist.yaml "$@"
newest=$(ls runs/fashion-mnist/checkpoint-*.h5 | tail -n 1)
"$bin" eval --checkpoint "$newest" --data datasets/out/fashion-mnist-test.h5
