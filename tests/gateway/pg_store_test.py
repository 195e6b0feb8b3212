#!/usr/bin/env python3
"""pg_store_test.py - run a command against a throwaway PostgreSQL 15 server.

    pg_store_test.py COMMAND [ARG...]

Starts Debian's PostgreSQL 15 (/usr/lib/postgresql/15/bin, or XFED_PG_BIN)
in a new temporary directory: initdb as user postgres when run as root (the
server refuses to run as root), a Unix socket only (listen_addresses='',
socket in the temporary directory, a free port number), creates the
database xfedtest, runs COMMAND with

    XFED_PG_CONNINFO  host=<dir> port=<port> dbname=xfedtest user=postgres
    XFED_PG_CTL, XFED_PG_DATA, XFED_PG_OPTS, XFED_PG_LOG, XFED_PG_USER
                      what a test needs to restart, stop and start the server

then stops the server (pg_ctl stop -m fast; the postmaster is killed by the
pid in its pid file if that fails) and removes the directory, always, also
when COMMAND fails or times out. Every wait is bounded. Exit status: the
command's, or 1 when the server could not be set up.

PgServer is importable for other tests:
    with PgServer() as pg: ... pg.conninfo ...
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

PG_BIN = os.environ.get("XFED_PG_BIN", "/usr/lib/postgresql/15/bin")
COMMAND_TIMEOUT = 240  # below the ctest TIMEOUT, so clean-up always runs


def free_port():
    """A port number nobody listens on (it only names the socket file here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A PostgreSQL server of our own in a temporary directory."""

    def __init__(self, dbname="xfedtest"):
        self.dbname = dbname
        self.user = "postgres" if os.geteuid() == 0 else ""
        self.tmp = None
        self.started = False

    def _as_server_user(self, argv):
        return (["runuser", "-u", self.user, "--"] if self.user else []) + argv

    def _run(self, argv, timeout=60):
        r = subprocess.run(self._as_server_user(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (os.path.basename(argv[0]),
                                                        r.returncode, r.stdout))
        return r.stdout

    def __enter__(self):
        for tool in ("initdb", "pg_ctl", "createdb"):
            if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
                raise RuntimeError("%s/%s missing: apt-get install postgresql" % (PG_BIN, tool))
        self.tmp = tempfile.mkdtemp(prefix="xfed-pg-")
        try:
            self._setup()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _setup(self):
        os.chmod(self.tmp, 0o711)  # the server user may enter, not list
        self.data = os.path.join(self.tmp, "data")
        self.sock = os.path.join(self.tmp, "sock")
        self.log = os.path.join(self.tmp, "log", "postgresql.log")
        for d in (self.data, self.sock, os.path.dirname(self.log)):
            os.mkdir(d, 0o700)
            if self.user:
                pw = pwd.getpwnam(self.user)
                os.chown(d, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        self.opts = ("-k %s -c listen_addresses='' -p %d -c fsync=off"
                     " -c full_page_writes=off" % (self.sock, self.port))
        t0 = time.monotonic()
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync",
                   "--no-instructions"], timeout=120)
        self.started = True  # from here on, stop it whatever happens
        self._run([os.path.join(PG_BIN, "pg_ctl"), "start", "-D", self.data, "-w", "-t", "30",
                   "-o", self.opts, "-l", self.log])
        self._run([os.path.join(PG_BIN, "createdb"), "-h", self.sock, "-p", str(self.port),
                   "-U", "postgres", self.dbname])
        self.conninfo = "host=%s port=%d dbname=%s user=postgres" % (self.sock, self.port,
                                                                      self.dbname)
        print("# PostgreSQL ready in %.2f s (socket %s, port %d)"
              % (time.monotonic() - t0, self.sock, self.port), flush=True)

    def env(self):
        e = dict(os.environ)
        e.update(XFED_PG_CONNINFO=self.conninfo, XFED_PG_CTL=os.path.join(PG_BIN, "pg_ctl"),
                 XFED_PG_DATA=self.data, XFED_PG_OPTS=self.opts, XFED_PG_LOG=self.log,
                 XFED_PG_USER=self.user)
        return e

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def _is_our_postmaster(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return self.data.encode() in f.read()
        except OSError:
            return False

    def __exit__(self, *exc):
        if self.started:
            try:
                self._run([os.path.join(PG_BIN, "pg_ctl"), "stop", "-D", self.data, "-m", "fast",
                           "-w", "-t", "30"])
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                msg = str(e)
                if "Is server running?" not in msg:  # a test may have left it stopped
                    print("# pg_ctl stop failed: %s" % msg, file=sys.stderr)
                pid = self._postmaster_pid()
                if pid and self._is_our_postmaster(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)  # our own postmaster only
                    except ProcessLookupError:
                        pass
                    for _ in range(100):
                        try:
                            os.kill(pid, 0)
                        except ProcessLookupError:
                            break
                        time.sleep(0.05)
            self.started = False
        if self.tmp:
            if os.environ.get("XFED_KEEP_TMP"):
                print("# kept %s" % self.tmp, file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return False


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        with PgServer() as pg:
            t0 = time.monotonic()
            try:
                r = subprocess.run(argv[1:], env=pg.env(), timeout=COMMAND_TIMEOUT)
                rc = r.returncode
            except subprocess.TimeoutExpired:
                print("# %s timed out after %d s" % (argv[1], COMMAND_TIMEOUT), file=sys.stderr)
                rc = 1
            print("# command finished in %.2f s, status %d" % (time.monotonic() - t0, rc),
                  flush=True)
            if rc != 0:
                try:
                    with open(pg.log) as f:
                        sys.stderr.write("# server log (last lines):\n" +
                                         "".join(f.readlines()[-30:]))
                except OSError:
                    pass
        return rc
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("# cannot run PostgreSQL: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
