#!/bin/sh
# xfedctl admin: the accounts of xfed-panel. Exit codes, the 0600 file with
# yescrypt hashes, password from stdin and from a terminal without echo
# (through script(1)'s pseudo-terminal). Needs XFED_BIN.
set -u
x="$XFED_BIN/xfedctl"
dir=$(mktemp -d /tmp/xfedctl-admin-XXXXXX)
trap 'rm -rf "$dir"' EXIT
c="$dir/etc"
pass=0
fail=0
expect() { # expect CODE DESCRIPTION -- command...
    want=$1
    what=$2
    shift 3
    "$@" >"$dir/out" 2>"$dir/err" </dev/null
    got=$?
    if [ "$got" = "$want" ]; then
        pass=$((pass + 1))
        echo "ok   $what (exit $got)"
    else
        fail=$((fail + 1))
        echo "FAIL $what: exit $got, wanted $want"
        cat "$dir/err"
    fi
}
check() { # check DESCRIPTION -- shell condition
    what=$1
    shift 2
    if "$@"; then
        pass=$((pass + 1))
        echo "ok   $what"
    else
        fail=$((fail + 1))
        echo "FAIL $what"
    fi
}
stdin_pw() { # stdin_pw PASSWORD command...
    pw=$1
    shift
    printf '%s\n' "$pw" | "$@" >"$dir/out" 2>"$dir/err"
}

"$x" -c "$c" init --hosted-domain contoso.com >/dev/null || exit 1

stdin_pw 'first-password' "$x" -c "$c" admin add alice --role admin --password-stdin
check "add alice (admin) from stdin" -- [ $? -eq 0 ]
check "panel-users has mode 0600" -- [ "$(stat -c %a "$c/panel-users")" = 600 ]
check "only a yescrypt hash is stored" -- sh -c "grep -q '^alice:admin:\\\$y\\\$' '$c/panel-users' && ! grep -q first-password '$c/panel-users'"
stdin_pw 'other-password' "$x" -c "$c" admin add alice --role viewer --password-stdin
check "adding an existing account is refused (exit 1)" -- [ $? -eq 1 ]
stdin_pw 'short' "$x" -c "$c" admin add bob --role viewer --password-stdin
check "a short password is refused (exit 1)" -- [ $? -eq 1 ]
expect 2 "a role is required" -- "$x" -c "$c" admin add bob --password-stdin
expect 2 "an unknown role is a usage error" -- "$x" -c "$c" admin add bob --role root --password-stdin
expect 2 "a bad account name is a usage error" -- "$x" -c "$c" admin add 'b:ob' --role viewer --password-stdin
expect 2 "without a terminal, --password-stdin is needed" -- setsid "$x" -c "$c" admin add bob --role viewer

# a terminal: asked twice, nothing echoed. A pseudo-terminal driven from
# python3 answers each prompt only once it has appeared.
tty_run() { # tty_run FIRST SECOND args...
    python3 - "$@" <<'PY' >"$dir/tty" 2>&1
import os, pty, select, sys, time
first, second, args = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(args[0], args)
out = b""
def read_until(marker, seconds=15):
    global out
    end = time.time() + seconds
    while marker not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return marker in out
if read_until(b"New password: "):
    os.write(fd, first + b"\n")
    if read_until(b"Repeat the password: "):
        os.write(fd, second + b"\n")
read_until(b"\0", 10)  # until the program ends (EOF), bounded
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
}
tty_run typed-password-1 typed-password-1 "$x" -c "$c" admin add carol --role viewer
check "add carol with the password typed on a terminal" -- grep -q 'added panel account carol (viewer)' "$dir/tty"
check "the terminal does not echo the password" -- sh -c "! grep -q typed-password-1 '$dir/tty'"
tty_run typed-password-1 different-password "$x" -c "$c" admin passwd carol
check "two different passwords are refused (exit 1)" -- [ $? -eq 1 ]
check "and the reason is given" -- grep -q 'the two passwords differ' "$dir/tty"

expect 0 "list" -- "$x" -c "$c" admin list
check "list shows names and roles" -- sh -c "[ \"\$(cat '$dir/out')\" = \"\$(printf 'alice admin\ncarol viewer')\" ]"
before=$(grep '^alice:' "$c/panel-users")
stdin_pw 'second-password' "$x" -c "$c" admin passwd alice --password-stdin
check "passwd alice" -- [ $? -eq 0 ]
check "passwd changed the hash" -- [ "$before" != "$(grep '^alice:' "$c/panel-users")" ]
stdin_pw 'second-password' "$x" -c "$c" admin passwd nobody --password-stdin
check "passwd of an unknown account is refused (exit 1)" -- [ $? -eq 1 ]
expect 1 "remove an unknown account" -- "$x" -c "$c" admin remove nobody
expect 0 "remove carol" -- "$x" -c "$c" admin remove carol
expect 0 "list after remove" -- "$x" -c "$c" admin list
check "carol is gone" -- sh -c "! grep -q carol '$dir/out'"
expect 0 "admin add --help" -- "$x" admin add --help
expect 2 "an unknown subcommand" -- "$x" -c "$c" admin frobnicate
# A hash made elsewhere (the appliance seed's admin_password_hash).
hash=$(grep '^alice:' "$c/panel-users" | cut -d: -f3-)
expect 0 "add with --password-hash" -- "$x" -c "$c" admin add dave --role admin --password-hash "$hash"
check "the given hash is stored as is" -- grep -qF "dave:admin:$hash" "$c/panel-users"
expect 1 "a hash that is not yescrypt is refused" -- "$x" -c "$c" admin add erin --role admin --password-hash '$6$salt$abc'
expect 1 "a truncated yescrypt hash is refused" -- "$x" -c "$c" admin add erin --role admin --password-hash '$y$j9T$abc$'
expect 2 "--password-hash with --password-stdin is a usage error" -- "$x" -c "$c" admin add erin --role admin --password-stdin --password-hash "$hash"
chmod 640 "$c/panel-users"
expect 1 "a group-readable accounts file is refused" -- "$x" -c "$c" admin list

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
