#!/usr/bin/env bash
# Installs the native libraries and tools the project needs on Debian 12 (idempotent, quiet).
set -euo pipefail
packages=(libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libopenblas-dev pkg-config binutils
          dataset-fashion-mnist bible-kjv python3-h5py python3-numpy slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python side of the tests: h5py, numpy (the packers) and safetensors (the export check,
# jobs/torch/check_export.py), for the python3 on PATH.
if ! python3 -c 'import h5py, numpy, safetensors' >/dev/null 2>&1; then
  export PIP_ROOT_USER_ACTION=ignore
  python3 -m pip install --quiet --disable-pip-version-check h5py numpy safetensors >/dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages h5py numpy safetensors
fi
