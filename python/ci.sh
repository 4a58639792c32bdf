#!/usr/bin/env bash
# CI for the Python package (python/): pip-installs it with its test extras (pytest, pandas,
# nir) into the current python (`$PYTHON`, default python3) and runs its tests against the
# installed package. The tests call the lsnn-gpu binary: `$LSNN_GPU_BIN`, else
# target/release/lsnn-gpu, else target/debug/lsnn-gpu, so build it first
# (`cargo build --release`); without it they fail, unless LSNN_SKIP_BINARY_TESTS=1.
# Extra arguments go to pytest. Takes about 10 s after the install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"

echo "== pip install ./python[test] into $("$PY" -c 'import sys; print(sys.executable)')"
"$PY" -m pip install --quiet --disable-pip-version-check "$here[test]"

echo "== pytest python/tests"
# From inside tests/, so that `import lsnn_gpu` is the installed package, not the source tree.
cd "$here/tests"
"$PY" -m pytest -q -p no:cacheprovider "$@" .
