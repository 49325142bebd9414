#!/usr/bin/env bash
# The GPU check in one call (meant to fit a lent H100/H200's 10-minute call; not yet run on one): install the carried
# wheels, run the GPU tests, run `generate` on CUDA for every prior, each learned one with its own recipe for 300 steps
# (bench/device_check.py: it/s, the render/prior/update split, peak memory), rebuild the report.
#
#   bench/fetch_device_wheels.sh                     # here, first: the wheels into .whl/ (ignored, ~26 MB)
#   bench/device_check.sh                            # there: everything, results copied to $OUT when it is set
#   bench/device_check.sh --device cpu --tiny        # anywhere: the same steps on tiny networks (the suite runs it)
#
# Arguments go to bench/device_check.py. WHEELS (default .whl) names the wheel folder; without it nothing is
# installed (the Python in use must then have the engine's packages, as this repository's .venv does).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
RESULTS=bench/results/device_check.json
if [[ " $* " == *" --tiny "* ]]; then RESULTS=${RESULTS_FILE:-bench/results/device_check_tiny.json}; fi
RESULTS=${RESULTS_FILE:-$RESULTS}
status=0
# GPU tests (they skip without CUDA); only the test files that hold them, so nothing imports bpy or ray there.
"$PYTHON" -m pytest -q -p no:cacheprovider -m gpu tests/engine/test_gpu.py || status=1
"$PYTHON" -m bench.device_check --out "$RESULTS" "$@" || status=1
if [[ " $* " != *" --tiny "* ]]; then
  "$PYTHON" -m bench report || status=1
fi
if [[ -n "${OUT:-}" ]]; then
  cp "$RESULTS" "$OUT/" && cp bench/REPORT.md "$OUT/" || status=1
fi
exit $status
