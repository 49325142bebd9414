#!/bin/sh
# A Debian 13 (trixie) root with Blender 4.3 and numpy, for tools/screenshots.py (not part of CI).
#
# Debian 12's Blender (3.4) is older than the extension's minimum (4.2), so the screenshots run Debian 13's in a
# root of its own, made with debootstrap (about 4 min and 2 GB), with the X server (Xvfb), ImageMagick (its `import`
# takes the screenshots: Blender's own screenshot operator writes black images under Xvfb) and xdotool (it clicks).
#
#   sudo tools/screenshots_setup.sh [ROOT]     # ROOT: /work/debian13 by default, outside the repository
set -eu
ROOT=${1:-/work/debian13}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ -x "$ROOT/usr/bin/blender" ] && [ -x "$ROOT/usr/bin/xvfb-run" ]; then
    echo "Blender is already in $ROOT"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "missing debootstrap: apt-get install -y debootstrap"; exit 1; }
[ -e "$ROOT/etc/debian_version" ] || debootstrap --variant=minbase trixie "$ROOT" "$MIRROR"
mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc"' EXIT
chroot "$ROOT" sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends blender python3-numpy xvfb xauth imagemagick xdotool'
chroot "$ROOT" blender --version | head -1
