"""Network namespaces, processes inside them, and their guaranteed clean-up.

A Lab is a context manager that owns everything a test creates:

    with Lab() as lab:
        edge = lab.add_host("edge")          # namespace xf<pid>-edge, 10.254.0.10
        partner = lab.add_host("partner")    # namespace xf<pid>-partner, 10.254.0.11
        proc = partner.spawn(["sleep", "60"])
        ...
    # every process it spawned is killed by pid, every namespace deleted,
    # /etc/netns/<name>/ removed, the temp dir removed (unless XFED_KEEP_TMP=1)

Topology: one namespace `xf<pid>-br` holds a Linux bridge `br0`; each host
namespace gets one veth pair, `eth0` inside the host namespace and `v<n>`
enslaved to the bridge. Addresses come from 10.254.0.0/24 and exist only in
these namespaces: there is no default route and nothing is connected to the
root namespace, so no test packet can leave the machine. Parallel runs do
not collide because every name carries the creating pid.

Each host namespace gets /etc/netns/<name>/resolv.conf (bind-mounted over
/etc/resolv.conf by `ip netns exec`) naming the lab's DNS address, and an
/etc/netns/<name>/hosts with localhost only.

Everything here needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLONE_NEWNET = 0x40000000
SUBNET = "10.254.0"
PREFIXLEN = 24
DNS_IP = SUBNET + ".53"
NETNS_RUN_DIR = "/run/netns"
NETNS_ETC_DIR = "/etc/netns"

_libc = ctypes.CDLL(None, use_errno=True)


class HarnessError(Exception):
    """A harness step failed (command error, timeout, process died)."""


def _run(cmd, timeout=20, check=True, **kw):
    """Run a command in the root namespace, bounded; raise HarnessError on failure."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError("timed out after %ss: %s" % (timeout, " ".join(cmd))) from exc
    if check and res.returncode != 0:
        raise HarnessError(
            "command failed (rc=%d): %s\n%s%s" % (res.returncode, " ".join(cmd), res.stdout, res.stderr)
        )
    return res


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def in_netns(ns_name, fn, *args, **kwargs):
    """Call fn(*args, **kwargs) on a fresh thread that has joined namespace ns_name.

    Sockets keep the namespace they were created in for their whole life, so a
    socket created by fn can then be used from any thread. Returns fn's result
    or re-raises its exception. Blocks until fn returns.
    """
    box = {}

    def body():
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, ns_name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns(%s): %s" % (ns_name, os.strerror(err)))
            finally:
                os.close(fd)
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=body, name="netns-" + ns_name, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class Proc:
    """A process started by the harness inside a namespace.

    Attributes: pid, name, popen (subprocess.Popen), log_path (its stdout and
    stderr, or None when they were piped). stop() ends it: SIGTERM, bounded
    wait, then SIGKILL to its process group (it runs in its own session, so
    the group holds only what it started).
    """

    def __init__(self, popen, name, log_path):
        self.popen = popen
        self.pid = popen.pid
        self.name = name
        self.log_path = log_path

    def alive(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def wait(self, timeout):
        """Wait up to timeout seconds; return the exit code or None if still running."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=5.0):
        """Terminate (SIGTERM, then SIGKILL after timeout). Returns the exit code."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(5.0)
        else:
            # the leader is gone; make sure nothing it forked survives
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for f in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        return self.popen.poll()

    def output(self):
        """Text of the process's log file ('' if none)."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def __repr__(self):
        return "<Proc %s pid=%d rc=%r>" % (self.name, self.pid, self.returncode)


class Host:
    """One network namespace with one address on the lab bridge."""

    def __init__(self, lab, name, ns, ip):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.ip = ip

    def __repr__(self):
        return "<Host %s ns=%s ip=%s>" % (self.name, self.ns, self.ip)

    def _wrap(self, cmd, user=None):
        cmd = [str(c) for c in cmd]
        if user:
            cmd = ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--"] + cmd
        return ["ip", "netns", "exec", self.ns] + cmd

    def run(self, cmd, timeout=30, check=True, user=None, input=None, env=None):
        """Run cmd inside the namespace (optionally as user), wait up to timeout.

        Returns subprocess.CompletedProcess (text mode). Raises HarnessError on
        a non-zero exit when check is true, or on timeout.
        """
        return _run(self._wrap(cmd, user), timeout=timeout, check=check, input=input, env=env)

    def spawn(self, cmd, name=None, user=None, log_path=None, pipe=False, env=None, cwd=None):
        """Start cmd in the background inside the namespace; the lab kills it at exit.

        stdout+stderr go to log_path (default <lab tmp>/<name>.out) unless pipe
        is true, in which case stdin/stdout are pipes (text, line-buffered) and
        stderr goes to the log file. Returns a Proc.
        """
        return self.lab._spawn(self._wrap(cmd, user), name or os.path.basename(str(cmd[0])), log_path, pipe, env, cwd)

    def socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM):
        """A new socket that lives in this namespace (usable from any thread)."""
        return in_netns(self.ns, socket.socket, family, type)

    def connect(self, ip, port, timeout=5.0):
        """A TCP socket connected from this namespace to ip:port (timeout set on it)."""
        s = self.socket()
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
        except BaseException:
            s.close()
            raise
        return s

    def port_open(self, ip, port):
        try:
            s = self.connect(ip, port, timeout=1.0)
        except OSError:
            return False
        s.close()
        return True

    def wait_port(self, ip, port, timeout=15.0, proc=None):
        """Poll until ip:port accepts a TCP connection from this namespace.

        Fails early (HarnessError) if proc is given and exits. Returns the
        seconds waited.
        """
        t0 = time.monotonic()
        while True:
            if self.port_open(ip, port):
                return time.monotonic() - t0
            if proc is not None and not proc.alive():
                raise HarnessError("%s exited (rc=%s) before %s:%d opened:\n%s"
                                   % (proc.name, proc.returncode, ip, port, proc.output()[-3000:]))
            if time.monotonic() - t0 > timeout:
                raise HarnessError("%s:%d not open after %.1fs (from %s)" % (ip, port, timeout, self.ns))
            time.sleep(0.05)

    def dig(self, name, rtype="A", timeout=5):
        """Ask the lab DNS server from inside this namespace with dig; list of answers."""
        res = self.run(["dig", "+short", "+time=2", "+tries=2", rtype, name], timeout=timeout, check=False)
        return [l.strip() for l in res.stdout.splitlines() if l.strip()]


class Lab:
    """Owner of namespaces, processes and temp files of one test (a context manager).

    Lab(tag=None, keep_tmp=None): tag is appended to the name prefix
    (xf<pid>[<tag>]); keep_tmp (default: env XFED_KEEP_TMP=1) keeps the temp
    dir with its logs and configs after the run and prints where it is.
    Attributes: prefix, tmp (a 0755 temp dir), hosts (name -> Host),
    dns_ip. Clean-up also runs on SIGTERM and SIGHUP (turned into SystemExit)
    and on Ctrl-C (KeyboardInterrupt), since both unwind through __exit__.
    """

    def __init__(self, tag=None, keep_tmp=None):
        if os.geteuid() != 0:
            raise HarnessError("the harness needs root (network namespaces)")
        self.prefix = "xf%d%s" % (os.getpid(), tag or "")
        if keep_tmp is None:
            keep_tmp = os.environ.get("XFED_KEEP_TMP") == "1"
        self.keep_tmp = keep_tmp
        self.tmp = None
        self.hosts = {}
        self.dns_ip = DNS_IP
        self._namespaces = []
        self._procs = []
        self._spawned = 0
        self._next_octet = 10
        self._veth_index = 0
        self._old_handlers = {}
        self._lock = threading.Lock()
        self.bridge_ns = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        try:
            self.tmp = tempfile.mkdtemp(prefix=self.prefix + "-")
            os.chmod(self.tmp, 0o755)
            self.bridge_ns = self._add_ns("br")
            self._ns_run(self.bridge_ns, ["ip", "link", "add", "br0", "type", "bridge"])
            self._ns_run(self.bridge_ns, ["ip", "link", "set", "br0", "up"])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @staticmethod
    def _on_signal(signum, frame):
        raise SystemExit(128 + signum)

    def close(self):
        """Kill every process (newest first), delete namespaces, files. Idempotent."""
        for sig in self._old_handlers:
            signal.signal(sig, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        for proc in reversed(self._procs):
            try:
                proc.stop(timeout=5.0)
            except Exception as exc:  # keep cleaning
                print("harness: stopping %r: %s" % (proc, exc), file=sys.stderr)
        self._procs = []
        for ns in reversed(self._namespaces):
            _run(["ip", "netns", "del", ns], check=False)
            shutil.rmtree(os.path.join(NETNS_ETC_DIR, ns), ignore_errors=True)
        self._namespaces = []
        try:
            os.rmdir(NETNS_ETC_DIR)  # only if we left it empty
        except OSError:
            pass
        if self.tmp and os.path.isdir(self.tmp):
            if self.keep_tmp:
                print("harness: kept %s" % self.tmp, file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers = {}

    # -- namespaces --------------------------------------------------------
    def _add_ns(self, short):
        ns = "%s-%s" % (self.prefix, short)
        if len(ns) > 64 or not re.match(r"^[A-Za-z0-9_.-]+$", ns):
            raise HarnessError("bad namespace name %r" % ns)
        _run(["ip", "netns", "add", ns])
        self._namespaces.append(ns)
        etc = os.path.join(NETNS_ETC_DIR, ns)
        for _ in range(5):  # another run may rmdir an empty /etc/netns between our two mkdirs
            try:
                os.makedirs(etc, exist_ok=True)
                break
            except FileNotFoundError:
                time.sleep(0.01)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver %s\noptions timeout:2 attempts:2\n" % self.dns_ip)
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        self._ns_run(ns, ["ip", "link", "set", "lo", "up"])
        return ns

    @staticmethod
    def _ns_run(ns, cmd, check=True):
        return _run(["ip", "netns", "exec", ns] + cmd, check=check)

    def add_host(self, name, ip=None):
        """Create namespace xf<pid>-<name> with eth0 = ip/24 on the lab bridge.

        ip defaults to the next free 10.254.0.x (from .10). Returns a Host.
        """
        if name in self.hosts:
            raise HarnessError("host %s exists" % name)
        if ip is None:
            while "%s.%d" % (SUBNET, self._next_octet) in [h.ip for h in self.hosts.values()] + [self.dns_ip]:
                self._next_octet += 1
            ip = "%s.%d" % (SUBNET, self._next_octet)
            self._next_octet += 1
        ns = self._add_ns(name)
        self._veth_index += 1
        peer = "v%d" % self._veth_index
        # Both ends are created inside our namespaces: nothing appears in the root namespace.
        self._ns_run(self.bridge_ns, ["ip", "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns])
        self._ns_run(self.bridge_ns, ["ip", "link", "set", peer, "master", "br0"])
        self._ns_run(self.bridge_ns, ["ip", "link", "set", peer, "up"])
        self._ns_run(ns, ["ip", "addr", "add", "%s/%d" % (ip, PREFIXLEN), "dev", "eth0"])
        self._ns_run(ns, ["ip", "link", "set", "eth0", "up"])
        host = Host(self, name, ns, ip)
        self.hosts[name] = host
        return host

    # -- processes ---------------------------------------------------------
    def _spawn(self, cmd, name, log_path, pipe, env, cwd):
        self._spawned += 1
        if log_path is None:
            log_path = os.path.join(self.tmp, "%s.%d.out" % (re.sub(r"[^A-Za-z0-9_.-]", "_", name), self._spawned))
        logf = open(log_path, "ab")
        try:
            if pipe:
                popen = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf,
                                         text=True, bufsize=1, start_new_session=True, env=env, cwd=cwd)
            else:
                popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=env, cwd=cwd)
        finally:
            logf.close()
        proc = Proc(popen, name, log_path)
        with self._lock:
            self._procs.append(proc)
        return proc

    def forget(self, proc):
        """Stop proc now and drop it from the clean-up list."""
        proc.stop()
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)

    def path(self, *parts):
        """A path inside the lab's temp dir."""
        return os.path.join(self.tmp, *parts)


def stale_namespaces():
    """Names of xf<pid>-* namespaces whose creating pid no longer exists."""
    out = []
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return out
    for n in names:
        m = re.match(r"^xf(\d+)[^-]*-", n)
        if m and not _pid_alive(int(m.group(1))):
            out.append(n)
    return out


def remove_stale_namespaces():
    """Delete namespaces (and /etc/netns dirs) left by a harness run that was SIGKILLed.

    Only touches names matching xf<pid>-... whose pid is dead. Kills nothing:
    processes still inside such a namespace keep running (find them with
    `ip netns pids <name>`). Returns the names removed.
    """
    removed = []
    for n in stale_namespaces():
        _run(["ip", "netns", "del", n], check=False)
        shutil.rmtree(os.path.join(NETNS_ETC_DIR, n), ignore_errors=True)
        removed.append(n)
    return removed


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value (returned) or raise HarnessError."""
    t0 = time.monotonic()
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() - t0 > timeout:
            raise HarnessError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


__all__ = ["Lab", "Host", "Proc", "HarnessError", "in_netns", "wait_for", "stale_namespaces",
           "remove_stale_namespaces", "DNS_IP", "SUBNET"]
