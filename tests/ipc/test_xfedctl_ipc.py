#!/usr/bin/env python3
"""xfedctl keys and xfedctl tap, end to end against the real IPC server
channel (tests/ipc/ipc_test_edge.c) over CURVE on 127.0.0.1.

Needs XFED_BIN (the build's bin directory). Every process it starts is
stopped by pid; the temporary directory is removed."""
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("XFED_BIN")
if not BIN:
    sys.exit("XFED_BIN is not set")
XFEDCTL = os.path.join(BIN, "xfedctl")
EDGE = os.path.join(BIN, "ipc_test_edge")
Z85 = r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def ctl(confdir, *args, stdin=None, timeout=60):
    p = subprocess.run([XFEDCTL, "-c", confdir, *args], input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Edge:
    """ipc_test_edge in the background, its output collected in files."""

    def __init__(self, confdir, work, send=0):
        self.epfile = os.path.join(work, "endpoint")
        if os.path.exists(self.epfile):
            os.unlink(self.epfile)
        self.out = open(os.path.join(work, "edge.out"), "w+")
        self.err = open(os.path.join(work, "edge.err"), "w+")
        self.proc = subprocess.Popen([EDGE, confdir, self.epfile, "--send", str(send)],
                                     stdout=self.out, stderr=self.err)
        deadline = time.time() + 10
        while not os.path.exists(self.epfile) and time.time() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.epfile) as f:
            self.endpoint = f.read().strip()

    def output(self):
        self.out.flush()
        with open(self.out.name) as f:
            return f.read()

    def errors(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def wait_for(self, pattern, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if re.search(pattern, self.output()):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()


def test_keys(confdir):
    rc, out, err = ctl(confdir, "keys", "init-edge")
    check(rc == 0 and re.search(r"^edge " + Z85 + "$", out, re.M), "keys init-edge prints the public key")
    edge_pub = re.search(r"^edge (" + Z85 + ")$", out, re.M).group(1)
    keydir = os.path.join(confdir, "keys")
    check(stat.S_IMODE(os.stat(os.path.join(keydir, "edge.key")).st_mode) == 0o600,
          "edge.key is mode 0600")
    secret = open(os.path.join(keydir, "edge.key")).read().strip()
    check(secret not in out and secret not in err, "init-edge never prints the secret key")
    rc, out, err = ctl(confdir, "keys", "init-edge")
    check(rc == 0 and edge_pub in out and "exists" in err, "init-edge keeps an existing pair")

    rc, out, err = ctl(confdir, "keys", "add-gateway", "tap")
    check(rc == 0 and re.search(r"^gateway tap " + Z85 + "$", out, re.M), "keys add-gateway tap")
    check(stat.S_IMODE(os.stat(os.path.join(keydir, "gateway", "tap.key")).st_mode) == 0o600,
          "the gateway's secret key is mode 0600")
    check(os.path.exists(os.path.join(keydir, "gateways", "tap.pub")), "tap is on the allow-list")
    rc, _, err = ctl(confdir, "keys", "add-gateway", "tap")
    check(rc == 1 and "already" in err, "adding the same gateway twice is refused (exit 1)")
    rc, _, _ = ctl(confdir, "keys", "add-gateway", "../evil")
    check(rc == 1, "a gateway name with a path is refused")
    rc, _, _ = ctl(confdir, "keys", "add-gateway")
    check(rc == 2, "add-gateway without a name is a usage error")
    ctl(confdir, "keys", "add-gateway", "gw2")

    rc, out, err = ctl(confdir, "keys", "list")
    lines = out.strip().splitlines()
    check(rc == 0 and lines[0] == "edge " + edge_pub and lines[1].startswith("gateway gw2 ")
          and lines[2].startswith("gateway tap "), "keys list: edge first, gateways by name")
    secrets = [open(os.path.join(keydir, "gateway", n + ".key")).read().strip()
               for n in ("tap", "gw2")] + [secret]
    check(not any(s in out for s in secrets), "keys list prints public keys only")

    rc, out, _ = ctl(confdir, "keys", "remove-gateway", "gw2")
    check(rc == 0 and not os.path.exists(os.path.join(keydir, "gateways", "gw2.pub"))
          and not os.path.exists(os.path.join(keydir, "gateway", "gw2.key")),
          "keys remove-gateway deletes the allow-list entry and the pair")
    rc, _, err = ctl(confdir, "keys", "remove-gateway", "gw2")
    check(rc == 1, "removing an unknown gateway is refused (exit 1)")
    rc, _, _ = ctl(confdir, "keys", "allow-gateway", "ext", "not-a-key")
    check(rc == 1, "allow-gateway refuses a malformed key")


def test_tap(confdir, work):
    edge = Edge(confdir, work, send=3)
    try:
        ep = edge.endpoint
        rc, out, err = ctl(confdir, "tap", "--endpoint", ep, "--count", "3", "--timeout", "20")
        lines = [l for l in out.splitlines() if l.startswith("stanza ")]
        check(rc == 0 and len(lines) == 3, "tap prints 3 stanzas and exits 0 (rc=%d)" % rc)
        want = re.compile(r"^stanza id=(\d+) incarnation=[0-9a-f]{16} remote=fabrikam\.example "
                          r"local=contoso\.example direction=inbound stream=test-stream-1 "
                          r"bytes=\d+ xml=<message .*line one\\nline two.*</message>$")
        check(all(want.match(l) for l in lines), "each line has ids, domain pair, direction, "
              "stream and the XML on one line")
        check(edge.wait_for(r"(?s)(acked id=\d+ status=ok.*){3}"), "the edge got 3 ok acks")

        stanza = os.path.join(work, "out.xml")
        with open(stanza, "w") as f:
            f.write("<message from='bob@contoso.example' to='alice@fabrikam.example'>"
                    "<body>hello</body></message>\n")
        rc, out, err = ctl(confdir, "tap", "--endpoint", ep, "--inject", stanza,
                           "--from", "contoso.example", "--to", "fabrikam.example",
                           "--timeout", "20")
        check(rc == 0 and re.search(r"^ack id=\d+ status=ok$", out, re.M),
              "an injected stanza is acknowledged ok")
        check(edge.wait_for(r"stanza_out id=\d+ from=contoso\.example to=fabrikam\.example "
                            r"xml=<message from='bob@contoso\.example'"),
              "the edge received the injected stanza with its domains")

        rc, out, err = ctl(confdir, "tap", "--endpoint", ep, "--inject", "-",
                           "--from", "contoso.example", "--to", "unknown.example",
                           "--timeout", "20", stdin="<message to='x@unknown.example'/>")
        check(rc == 1 and "status=error condition=remote-server-not-found" in out,
              "a refused injection (from stdin) prints the condition and exits 1")

        rc, out, err = ctl(confdir, "tap", "--endpoint", ep, "--count", "1", "--timeout", "20",
                           "--ack-error", "service-unavailable")
        check(rc == 0 and edge.wait_for(r"acked id=\d+ status=error condition=service-unavailable"),
              "--ack-error answers stanzas with an error condition")

        rc, out, err = ctl(confdir, "tap", "--endpoint", ep, "--stats", "--timeout", "20")
        check(rc == 0 and re.search(r"^stats edge=test-edge conf_version=7 streams=1", out, re.M)
              and re.search(r"^stream id=test-stream-1 .*partner=fabrikam\.example "
                            r"direction=inbound tls=TLSv1\.3 auth=sasl-external", out, re.M)
              and re.search(r"^gateway name=tap ", out, re.M), "--stats prints the edge's statistics")

        rc, out, err = ctl(confdir, "tap", "--endpoint", ep, "--count", "5", "--timeout", "2")
        check(rc == 1 and "3 of 5" in err, "fewer stanzas than --count before --timeout: exit 1")
    finally:
        edge.stop()


def test_refused_key(confdir, work):
    other = os.path.join(work, "other")
    os.mkdir(other)
    ctl(other, "keys", "init-edge")
    ctl(other, "keys", "add-gateway", "tap")  # a pair the edge has never seen
    edge = Edge(confdir, work, send=1)
    try:
        rc, out, err = ctl(confdir, "tap", "--endpoint", edge.endpoint, "--key",
                           os.path.join(other, "keys", "gateway", "tap"), "--count", "1",
                           "--timeout", "3")
        check(rc == 3 and "no session" in err and "stanza" not in out,
              "a tap whose key is not on the allow-list gets nothing (exit 3)")
        pub = open(os.path.join(other, "keys", "gateway", "tap.pub")).read().strip()
        check("refused connection" in edge.errors() and pub in edge.errors(),
              "the edge logs the refused key")
        check("peer_up" not in edge.output(), "no session was established")
    finally:
        edge.stop()


def main():
    work = tempfile.mkdtemp(prefix="xfed-ipc-")
    try:
        confdir = os.path.join(work, "conf")
        os.mkdir(confdir)
        test_keys(confdir)
        test_tap(confdir, work)
        test_refused_key(confdir, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
