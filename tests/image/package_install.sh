#!/bin/bash
# package_install.sh BUILD_DIR - the xfed Debian package on a plain Debian 12.
#
# 1. cpack makes two packages from the build tree: the current version and a
#    newer one (XFED_PACKAGE_VERSION in cpack's environment).
# 2. A plain Debian 12 root (mmdebstrap --variant=apt bookworm), cached as a
#    tarball under BUILD_DIR/tests/image/cache per UTC day, is unpacked.
# 3. In a chroot (private mount namespace, /proc mounted there):
#    `apt install ./xfed_*.deb` resolves Depends: from deb.debian.org; then
#    users, group, directories and modes, `xfedctl check`, man pages, units,
#    conffiles and each installed daemon's `-n` check run as its own user.
# 4. /etc/xfed is changed (hosted domain and partner with xfedctl, edge.conf
#    edited, a panel account) and a file stands in for the gateway's state;
#    the newer package is installed over it: every file under /etc/xfed and
#    /var/lib/xfed must be kept byte for byte, with owner and mode.
# 5. remove keeps /etc/xfed and /var/lib/xfed; purge deletes them.
# Needs root and the Debian mirror; prints the time of each step.
set -euo pipefail

build=$(realpath "${1:?usage: package_install.sh BUILD_DIR}")
src=${XFED_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
mirror=${XFED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${XFED_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (chroot, mount namespace)"
    exit 77
fi
for tool in cpack mmdebstrap unshare dpkg-deb openssl; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not found" >&2; exit 1; }
done

# Everything below runs in a private mount namespace: the /proc mount of the
# chroot disappears with this process whatever happens.
if [ -z "${XFED_PKGTEST_NS:-}" ]; then
    exec unshare --mount --propagation private env XFED_PKGTEST_NS=1 "$0" "$@"
fi

t_start=$(date +%s)
step() { echo "[$(($(date +%s) - t_start)) s] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$build/tests/image"
work=$(mktemp -d "$build/tests/image/package_install.XXXXXX")
root=$work/root
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    if grep -q " $work/" /proc/self/mounts; then
        echo "package_install: mounts left under $work, not removing it" >&2
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# 1. Two packages from one build tree.
base=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
[ -n "$base" ] || fail "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"
newer="$base+upgrade.1"
dpkg --compare-versions "$newer" gt "$base" || fail "$newer is not newer than $base"
(cd "$build" && env -u XFED_PACKAGE_VERSION cpack -G DEB -B "$work/old" >"$work/cpack-old.log" 2>&1) ||
    { cat "$work/cpack-old.log" >&2; fail "cpack (version $base)"; }
(cd "$build" && XFED_PACKAGE_VERSION=$newer cpack -G DEB -B "$work/new" >"$work/cpack-new.log" 2>&1) ||
    { cat "$work/cpack-new.log" >&2; fail "cpack (version $newer)"; }
old_deb=$work/old/xfed_${base}_amd64.deb
new_deb=$work/new/xfed_${newer}_amd64.deb
[ -f "$old_deb" ] || fail "cpack made no $old_deb"
[ -f "$new_deb" ] || fail "cpack made no $new_deb"
[ "$(dpkg-deb -f "$new_deb" Version)" = "$newer" ] || fail "newer package has the wrong version"
depends=$(dpkg-deb -f "$old_deb" Depends)
echo "Depends: $depends"
for d in adduser libc6 libssl3 libconfig9; do
    case ", $depends," in *", $d"[\ ,]*) ;; *) fail "Depends: lacks $d" ;; esac
done
step "packages: $(basename "$old_deb") $(du -k "$old_deb" | cut -f1) KiB, $(basename "$new_deb")"

# 2. A plain Debian 12, built once per day and build tree.
cache=$build/tests/image/cache
mkdir -p "$cache/archives"
tarball=$cache/debian12-apt-$(date -u +%Y%m%d).tar
exec 9>"$cache/lock"
flock -w 600 9 || fail "cache lock"
if [ ! -f "$tarball" ]; then
    rm -rf "$cache"/debian12-apt-*.tar "$cache/partial.tar"
    mmdebstrap --variant=apt --format=tar --skip=cleanup/apt/lists \
        --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Check-Date "false"' \
        bookworm "$cache/partial.tar" \
        "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main" >"$work/mmdebstrap.log" 2>&1 ||
        { tail -n 30 "$work/mmdebstrap.log" >&2; rm -rf "$cache/partial.tar"; fail "mmdebstrap"; }
    mv "$cache/partial.tar" "$tarball"
    step "Debian 12 root built: $tarball"
fi
flock -u 9
mkdir "$root"
tar -C "$root" --numeric-owner -xf "$tarball"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
step "Debian 12 root ready ($(du -sm "$root" | cut -f1) MiB)"
mount -t proc proc "$root/proc"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }
as_user() { local u=$1; shift; in_root setpriv --reuid="$u" --regid=xfed --clear-groups "$@"; }
apt_install() {
    # Downloaded .debs are kept between runs; apt checks their hashes.
    cp "$cache/archives/"*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
    cp "$1" "$root/tmp/"
    in_root apt-get install -y -q "/tmp/$(basename "$1")" </dev/null >"$work/apt.log" 2>&1 ||
        { tail -n 40 "$work/apt.log" >&2; fail "apt install $(basename "$1")"; }
    cp -n "$root/var/cache/apt/archives/"*.deb "$cache/archives/" 2>/dev/null || true
}
mode_of() { in_root stat -c '%a %U:%G' "$1"; }
expect_mode() { [ "$(mode_of "$1")" = "$2" ] || fail "$1 is $(mode_of "$1"), expected $2"; }

in_root apt-get update -q </dev/null >"$work/apt-update.log" 2>&1 ||
    { tail -n 20 "$work/apt-update.log" >&2; fail "apt-get update"; }
step "apt-get update"

# 3. Fresh install.
apt_install "$old_deb"
echo "installed: $(sed -n 's/^Setting up \([^ ]*\) .*/\1/p' "$work/apt.log" | paste -sd' ')"
[ "$(in_root dpkg-query -W -f='${Status} ${Version}' xfed)" = "install ok installed $base" ] ||
    fail "xfed $base is not installed"
step "apt install ./$(basename "$old_deb")"

getent_root() { in_root getent "$@"; }
getent_root group xfed >/dev/null || fail "no group xfed"
gid=$(getent_root group xfed | cut -d: -f3)
for u in xfed-edge xfed-gateway xfed-panel; do
    line=$(getent_root passwd "$u") || fail "no user $u"
    IFS=: read -r _ _ uid ugid _ home shell <<<"$line"
    [ "$uid" -lt 1000 ] || fail "$u is not a system user (uid $uid)"
    [ "$ugid" = "$gid" ] || fail "$u's group is not xfed"
    [ "$shell" = /usr/sbin/nologin ] || fail "$u has shell $shell"
    [ "$home" = /nonexistent ] || fail "$u has home $home"
done
expect_mode /etc/xfed "2770 root:xfed"
expect_mode /etc/xfed/xfed.conf "640 root:xfed"
expect_mode /etc/xfed/.xfed.lock "660 root:xfed"
expect_mode /var/lib/xfed "750 root:xfed"
expect_mode /var/lib/xfed/gateway "750 xfed-gateway:xfed"
in_root xfedctl -c /etc/xfed check || fail "xfedctl check of the new configuration"

for page in xfed-edge xfed-gateway xfed-panel xfedctl; do
    f=$root/usr/share/man/man8/$page.8.gz
    [ -f "$f" ] || fail "no man page $page(8)"
    zcat "$f" | grep -qi "^\.TH $page 8 " ||
        fail "$page.8.gz has no .TH for $page"
done
for unit in xfed-edge xfed-gateway xfed-panel; do
    cmp "$src/image/systemd/$unit.service" "$root/usr/lib/systemd/system/$unit.service" ||
        fail "$unit.service differs from image/systemd"
done
listing=$(in_root dpkg -L xfed)
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' xfed)
for c in edge.conf gateway.conf panel.conf; do
    grep -qx "/etc/xfed/$c" <<<"$listing" || fail "dpkg -L does not list /etc/xfed/$c"
    md5=$(md5sum <"$root/etc/xfed/$c" | cut -d' ' -f1)
    grep -q "^ /etc/xfed/$c $md5\$" <<<"$conffiles" || fail "/etc/xfed/$c is not a conffile"
    cmp "$src/image/etc/$c" "$root/etc/xfed/$c" || fail "/etc/xfed/$c differs from image/etc"
done
echo "conffiles:$(tr '\n' ' ' <<<"$conffiles")"
daemons=()
for prog in xfedctl xfed-edge xfed-gateway xfed-panel; do
    if [ -x "$build/bin/$prog" ]; then
        grep -qx "/usr/sbin/$prog" <<<"$listing" || fail "$prog was built but is not packaged"
        [ "$prog" = xfedctl ] || daemons+=("$prog")
    fi
done
echo "daemons in the package: ${daemons[*]:-none}"

# The appliance's TLS identity where the shipped edge.conf and panel.conf
# expect it (image/etc), made here as first boot makes it.
install -d -m 0750 -g "$gid" "$root/etc/xfed/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=xfed.test \
    -keyout "$root/etc/xfed/tls/key.pem" -out "$root/etc/xfed/tls/cert.pem" 2>/dev/null
chgrp "$gid" "$root/etc/xfed/tls/key.pem" "$root/etc/xfed/tls/cert.pem"
chmod 0640 "$root/etc/xfed/tls/key.pem"
# The IPC keys, each secret owned by the user that reads it.
as_user xfed-edge xfedctl -c /etc/xfed keys init-edge >/dev/null
in_root xfedctl -c /etc/xfed keys add-gateway gateway >/dev/null
in_root chown -R xfed-gateway /etc/xfed/keys/gateway
# Each daemon accepts the shipped defaults, running as its own user.
check_daemons() {
    local d
    for d in "${daemons[@]}"; do
        as_user "$d" "$d" -n -c /etc/xfed >"$work/$d-n.log" 2>&1 ||
            { cat "$work/$d-n.log" >&2; fail "$d -n as user $d ($1)"; }
        echo "$d -n as user $d: ok ($1)"
    done
}
check_daemons "fresh install"
step "fresh install checked"

# 4. The administrator's changes, then the upgrade.
in_root xfedctl -c /etc/xfed hosted add contoso.com >/dev/null
in_root xfedctl -c /etc/xfed partner new fabrikam.com --type Federated --tls Required \
    --sasl Optional --additional-domains fabrikam.net >/dev/null
sed -i 's/^#max_queue = 1000;$/max_queue = 500;/' "$root/etc/xfed/edge.conf"
grep -q '^max_queue = 500;$' "$root/etc/xfed/edge.conf" || fail "could not edit edge.conf"
if in_root xfedctl admin --help >/dev/null 2>&1; then
    # Accounts are the panel's secret (mode 0600): made as its user.
    printf 'correct horse battery\n' |
        as_user xfed-panel xfedctl -c /etc/xfed admin add alice --role admin --password-stdin \
            >/dev/null
    expect_mode /etc/xfed/panel-users "600 xfed-panel:xfed"
fi
head -c 65536 /dev/urandom >"$root/var/lib/xfed/gateway/state.sqlite"
in_root chown xfed-gateway:xfed /var/lib/xfed/gateway/state.sqlite
chmod 0600 "$root/var/lib/xfed/gateway/state.sqlite"
check_daemons "changed configuration"

manifest() {
    (cd "$root" && find etc/xfed var/lib/xfed -printf '%p %y %m %U %G %s\n' | sort &&
        find etc/xfed var/lib/xfed -type f -print0 | sort -z | xargs -0 sha256sum)
}
manifest >"$work/before"
apt_install "$new_deb"
[ "$(in_root dpkg-query -W -f='${Status} ${Version}' xfed)" = "install ok installed $newer" ] ||
    fail "xfed $newer is not installed"
manifest >"$work/after"
diff -u "$work/before" "$work/after" || fail "the upgrade changed /etc/xfed or /var/lib/xfed"
echo "kept byte for byte: $(grep -c ' f ' "$work/before") files under /etc/xfed and /var/lib/xfed"
in_root xfedctl -c /etc/xfed check || fail "xfedctl check after the upgrade"
in_root xfedctl -c /etc/xfed partner get fabrikam.com >/dev/null || fail "partner lost"
# dpkg sees exactly one changed conffile: the edited edge.conf.
verify=$(in_root dpkg --verify xfed || true)
[ "$(echo "$verify" | awk '$NF ~ /^\// {print $NF}')" = /etc/xfed/edge.conf ] ||
    fail "dpkg --verify: $verify"
check_daemons "after the upgrade"
step "upgrade to $newer kept everything"

# 5. remove keeps, purge deletes.
in_root apt-get remove -y -q xfed </dev/null >"$work/apt.log" 2>&1 || fail "apt remove"
[ -f "$root/etc/xfed/xfed.conf" ] && [ -f "$root/var/lib/xfed/gateway/state.sqlite" ] ||
    fail "remove deleted configuration or state"
in_root dpkg --purge xfed >"$work/purge.log" 2>&1 || fail "dpkg --purge"
[ ! -e "$root/etc/xfed" ] && [ ! -e "$root/var/lib/xfed" ] || fail "purge left /etc/xfed or /var/lib/xfed"
step "remove kept, purge deleted configuration and state"
echo "package_install: ok in $(($(date +%s) - t_start)) s"
