#!/usr/bin/env bash
# Runs on the build host with the image's root filesystem as $1 (an
# mmdebstrap customize hook). Makes the tree an appliance: mounts, host name,
# first-boot service, and nothing that must be unique per appliance.
set -euo pipefail
root=$1

cat >"$root/etc/fstab" <<'FSTAB'
LABEL=xfed-root  /          ext4  defaults,errors=remount-ro  0 1
LABEL=XFED-ESP   /boot/efi  vfat  umask=0077,nofail           0 2
FSTAB
mkdir -p "$root/boot/efi"
echo xfed >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 xfed\n::1 localhost ip6-localhost ip6-loopback\n' \
    >"$root/etc/hosts"

# Unique per appliance: created at first boot, never shipped.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root/etc/xfed/keys" "$root/etc/xfed/tls" "$root/etc/xfed/xfed.conf" \
    "$root/etc/xfed/panel-users"
rm -f "$root/var/lib/systemd/random-seed"

# Root has no password; administrators use the panel and SSH keys from the seed.
chroot "$root" passwd -l root >/dev/null
chroot "$root" systemctl enable systemd-networkd systemd-resolved xfed-firstboot.service xfed-issue.service \
    >/dev/null 2>&1
# Role services are enabled by first boot only.
for u in xfed-edge xfed-gateway xfed-panel nftables ssh; do
    chroot "$root" systemctl disable "$u.service" >/dev/null 2>&1 || true
done
ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
chmod 0755 "$root"/usr/lib/xfed-appliance/* "$root/etc/kernel/postinst.d/zz-xfed-esp"
