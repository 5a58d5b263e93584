#!/usr/bin/env bash
# Creates bench/.venv with the peers (Keras 3 via tensorflow-cpu, PyTorch CPU, ONNX Runtime, and onnx to export to
# it). It sees the system site-packages, so NumPy and the installed swiftcnn are visible. A peer that cannot be
# installed is reported as missing by run.py, never faked. Does nothing when already set up.
set -u
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv --system-site-packages .venv
fi
# onnx: torch.onnx.export needs it to write the model that ONNX Runtime runs.
for spec in "tensorflow-cpu:tensorflow" "onnxruntime:onnxruntime" "torch:torch" "onnx:onnx"; do
    pkg=${spec%%:*}; mod=${spec##*:}
    .venv/bin/python -c "import $mod" 2>/dev/null && continue
    echo "installing $pkg into bench/.venv"
    if [ "$pkg" = torch ]; then
        .venv/bin/pip install -q "torch==2.13.0+cpu" 2>/dev/null || .venv/bin/pip install -q torch || echo "could not install torch"
    else
        .venv/bin/pip install -q "$pkg" || echo "could not install $pkg"
    fi
done
exit 0
