#!/usr/bin/env bash
# image/build-image.sh - builds xfed-appliance.raw (GPT: EFI system partition
# with syslinux for BIOS and systemd-boot for UEFI, ext4 root) from Debian 12
# packages and the xfed .deb, without loop devices or mounts of the image:
#   mmdebstrap        root filesystem into a directory
#   mkfs.ext4 -d      root filesystem image from that directory
#   mkfs.vfat+mtools  EFI system partition image
#   sfdisk            partition table on the image file; dd places the parts
#   syslinux --offset BIOS boot loader installed into the FAT partition
# Then qemu-img converts to qcow2 and VMDK.
#
# Usage: image/build-image.sh [--deb FILE] [--out DIR] [--no-convert]
# Default --deb: built with `cmake --build build --target package`.
# Run as root on Debian 12 (scripts/install-deps installs the tools).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build-image
deb=
convert=1
while [ $# -gt 0 ]; do
    case $1 in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-convert) convert=0; shift ;;
    *) echo "usage: $0 [--deb FILE] [--out DIR] [--no-convert]" >&2; exit 2 ;;
    esac
done
t0=$(date +%s)
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d "$out/work.XXXXXX")
[ -n "${XFED_IMAGE_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

if [ -z "$deb" ]; then
    build=${XFED_BUILD_DIR:-$top/build}
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j"$(nproc)" --target package >/dev/null
    deb=$(ls -t "$build"/xfed_*.deb | head -n 1)
fi
echo "image: package $deb"

# Reproducible file times inside the image.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
pkgs=$(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$' | paste -sd, -)
root=$work/root
mirror=${XFED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${XFED_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

cp "$deb" "$work/xfed.deb"
mmdebstrap --variant=minbase --include="$pkgs" --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-include=/usr/share/man/man8/xfed*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"; echo "COMPRESS=zstd" > "$1/etc/initramfs-tools/conf.d/xfed"' \
    --essential-hook='mkdir -p "$1/usr/share/man/man8"' \
    --customize-hook='rm -f "$1/etc/resolv.conf"; cp -L /etc/resolv.conf "$1/etc/resolv.conf"' \
    --customize-hook="copy-in $work/xfed.deb /tmp" \
    --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/xfed.deb' \
    --customize-hook='rm -f "$1/tmp/xfed.deb"' \
    --customize-hook="sync-in $here/rootfs /" \
    --customize-hook="$here/customize.sh \"\$1\"" \
    bookworm "$root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -n 40 "$work/mmdebstrap.log"; exit 3; }
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' | sort >"$out/manifest.txt"
t1=$(date +%s)
echo "image: root filesystem in $((t1 - t0)) s ($(du -sm "$root" | cut -f1) MiB)"

# The EFI system partition holds the kernel and initrd for both loaders.
kver=$(ls "$root"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -n 1)
esp=$work/esp.img
esp_mib=96
rm -f "$esp"
mkfs.vfat -C -F 32 -n XFED-ESP "$esp" $((esp_mib * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/syslinux
mcopy -i "$esp" "$root/boot/vmlinuz-$kver" ::/vmlinuz
mcopy -i "$esp" "$root/boot/initrd.img-$kver" ::/initrd.img
mcopy -i "$esp" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
cmdline="root=LABEL=xfed-root ro rootwait console=tty0 console=ttyS0,115200n8 quiet"
printf 'default xfed.conf\ntimeout 0\neditor no\n' >"$work/loader.conf"
printf 'title xfed appliance\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n' "$cmdline" \
    >"$work/xfed.conf"
printf 'DEFAULT xfed\nPROMPT 0\nTIMEOUT 0\nLABEL xfed\n  LINUX /vmlinuz\n  INITRD /initrd.img\n  APPEND %s\n' \
    "$cmdline" >"$work/syslinux.cfg"
mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
mcopy -i "$esp" "$work/xfed.conf" ::/loader/entries/xfed.conf
mcopy -i "$esp" "$work/syslinux.cfg" ::/syslinux/syslinux.cfg
mcopy -i "$esp" "$here/seed.example" ::/xfed-seed.example

# The root filesystem: content plus room for logs, state and upgrades.
used=$(du -sm "$root" | cut -f1)
root_mib=$((used + used / 2 + 384))
rootimg=$work/root.img
rm -f "$rootimg"
mkfs.ext4 -q -L xfed-root -d "$root" -E root_owner=0:0 -T default "$rootimg" "${root_mib}M"

# GPT: 1 MiB alignment; ESP marked legacy-BIOS-bootable for gptmbr.bin.
img=$out/xfed-appliance.raw
rm -f "$img"
total_mib=$((1 + esp_mib + root_mib + 1))
truncate -s "${total_mib}M" "$img"
sfdisk -q "$img" <<SFDISK
label: gpt
start=1MiB, size=${esp_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="xfed-esp", attrs="LegacyBIOSBootable"
start=$((1 + esp_mib))MiB, size=${root_mib}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="xfed-root"
SFDISK
dd if="$esp" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$rootimg" of="$img" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
syslinux --install --offset $((1024 * 1024)) --directory /syslinux "$img"
dd if=/usr/lib/syslinux/mbr/gptmbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
t2=$(date +%s)

if [ "$convert" = 1 ]; then
    qemu-img convert -O qcow2 "$img" "$out/xfed-appliance.qcow2"
    qemu-img convert -O vmdk -o subformat=streamOptimized "$img" "$out/xfed-appliance.vmdk"
fi
t3=$(date +%s)
alloc=$(du -m "$img" | cut -f1)
echo "image: $img: ${total_mib} MiB virtual, ${alloc} MiB allocated; kernel $kver"
echo "image: built in $((t3 - t0)) s (rootfs $((t1 - t0)) s, disk $((t2 - t1)) s, convert $((t3 - t2)) s)"
