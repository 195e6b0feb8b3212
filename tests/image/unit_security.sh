#!/bin/sh
# unit_security.sh - rates each xfed unit file with
# `systemd-analyze security --offline=true` and fails when one is exposed
# above the limit (2.0, "OK"), or when a unit cannot be rated. Prints the
# figures (they go into docs/appliance.md).
# Usage: unit_security.sh [UNIT_FILE...]   (default: $XFED_SRC/image/systemd/*)
set -u
limit=${XFED_EXPOSURE_LIMIT:-2.0}
src=${XFED_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ $# -eq 0 ]; then
    set -- "$src/image/systemd/xfed-edge.service" "$src/image/systemd/xfed-gateway.service" \
        "$src/image/systemd/xfed-panel.service"
fi
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze not found" >&2; exit 1; }
systemd-analyze --version | head -n 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for unit in "$@"; do
    name=$(basename "$unit")
    # --offline=true reads the file itself, not a loaded unit; run from an
    # empty directory so no other unit file can be picked up.
    if ! (cd "$tmp" && systemd-analyze security --offline=true --no-pager "$unit") \
        >"$tmp/out" 2>&1; then
        # A non-zero status with a rating only means "above threshold".
        :
    fi
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$tmp/out")
    if [ -z "$score" ]; then
        echo "FAIL: $name: no exposure rating" >&2
        cat "$tmp/out" >&2
        fail=1
        continue
    fi
    verdict=$(sed -n 's/.*Overall exposure level for [^:]*: [0-9.]* \([A-Z]*\).*/\1/p' "$tmp/out")
    if awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
        echo "FAIL: $name: exposure $score $verdict, above $limit" >&2
        grep '✗' "$tmp/out" >&2
        fail=1
    else
        echo "$name: exposure $score $verdict"
        grep '✗' "$tmp/out" | sed 's/^/    /'
    fi
done
exit $fail
