#!/bin/bash
# build_image.sh BUILD_DIR - the fixture of the boot tests: packages this
# build tree with cpack and builds the appliance image from it with
# image/build-image.sh into BUILD_DIR/tests/image/appliance/ (raw, qcow2,
# VMDK). Prints the size and the time; fails if the image allocates more than
# 400 MB or the build takes more than 10 minutes.
set -euo pipefail
build=$(realpath "${1:?usage: build_image.sh BUILD_DIR}")
src=${XFED_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$build/tests/image/appliance
t0=$(date +%s)
rm -rf "$out"
mkdir -p "$out/deb"
(cd "$build" && cpack -G DEB -B "$out/deb" >/dev/null)
deb=$(ls "$out"/deb/xfed_*.deb)
"$src/image/build-image.sh" --deb "$deb" --out "$out"
secs=$(($(date +%s) - t0))
alloc_kb=$(du -k "$out/xfed-appliance.raw" | cut -f1)
echo "image: ${alloc_kb} KiB allocated, built in ${secs} s"
for f in xfed-appliance.qcow2 xfed-appliance.vmdk; do
    qemu-img info "$out/$f" >/dev/null || { echo "FAIL: $f unreadable"; exit 1; }
done
[ "$alloc_kb" -le $((400 * 1000)) ] || { echo "FAIL: more than 400 MB allocated"; exit 1; }
[ "$secs" -le 600 ] || { echo "FAIL: the build took more than 10 minutes"; exit 1; }
echo "image: ok"
