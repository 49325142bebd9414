#!/usr/bin/env bash
# Download, here, the wheels a lent GPU machine lacks, for bench/device_check.sh to install there offline.
#
#   bench/fetch_device_wheels.sh            # into .whl/ at the repository root (ignored by git; never commit it)
#
# That machine (/work/.library/device/KINDS.md) has Python 3.12, torch, transformers 5.17, tokenizers 0.23.2,
# safetensors 0.8.0, huggingface_hub 1.33 and numpy 2.5, but no diffusers, trimesh, PyMCubes, xatlas or
# fast-simplification. The engine's pins (engine/requirements-engine.txt) are carried for those, and for
# transformers and tokenizers so the versions the suite runs here are the ones measured there; regex because
# transformers 5.23 needs a newer one than the machine may have. No dependencies are resolved (--no-deps):
# everything else these need is on the machine already. The folder must stay under the device tool's 64 MiB
# carry limit together with the working tree (about 26 MB of wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
REQUIREMENTS=engine/requirements-engine.txt
pinned() { grep -i "^$1==" "$REQUIREMENTS" || { echo "no pin for $1 in $REQUIREMENTS" >&2; exit 1; }; }
PACKAGES=(
  "$(pinned diffusers)" "$(pinned transformers)" "$(pinned tokenizers)" "$(pinned trimesh)"
  "$(pinned fast-simplification)" "$(pinned PyMCubes)" "$(pinned xatlas)" "regex==2026.11.19"
)
rm -rf "$WHEELS"
mkdir -p "$WHEELS"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$WHEELS" "${PACKAGES[@]}"
ls -1 "$WHEELS"
du -sh "$WHEELS"
