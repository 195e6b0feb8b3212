#!/usr/bin/env python3
"""Live status from a running edge (issue 5 item 3, issue 6 item 6), end to end.

A real xfed-edge on loopback (free ports, a configuration directory made with
`xfedctl init` and `xfedctl keys`, certificates from a test CA made with
openssl), an `xfedctl tap` connected to it as gateway gw1, and a partner
(s2s_partner.py, the harness's raw peer) with two inbound streams: one
authenticated with STARTTLS and SASL EXTERNAL that carries two messages to
gw1, one still negotiating. Then:
`xfedctl status` (text and --json) and a real xfed-panel's GET /api/status, its
status page and its GET /metrics report the edge as connected with its
configuration version (flagged stale once the store moves on), the stream and
the gateway; the panel tells systemd READY=1 and pings WATCHDOG=1 (over a real
AF_UNIX datagram socket standing in for NOTIFY_SOCKET). After the edge is
stopped, both report it as not connected with a reason and xfedctl exits 1.

Needs XFED_BIN. Every process started here is stopped by its pid; the
temporary directory (in the working directory, the build tree under ctest)
is removed."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s2s_partner  # noqa: E402
from harness.checks import check, failures, free_port, must  # noqa: E402
from harness.checks import poll as wait_for  # noqa: E402

BIN = os.environ.get("XFED_BIN")
if not BIN:
    sys.exit("XFED_BIN is not set")
XFEDCTL = os.path.join(BIN, "xfedctl")
procs = []


def wait_port(port, seconds, proc=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def ctl(confdir, *args, stdin=None, timeout=60):
    p = subprocess.run([XFEDCTL, "-c", confdir, *args], input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def start(argv, log, env=None):
    f = open(log, "w")
    p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env)
    p.logfile = f
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    p.logfile.close()
    return p.returncode


class Panel:
    """HTTPS client of xfed-panel with its session cookie."""

    def __init__(self, port):
        self.port = port
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        self.cookie = None

    def request(self, method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=20)
        headers = {}
        if body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = self.cookie
        t0 = time.time()
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read().decode()
        elapsed = time.time() - t0
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                self.cookie = v.split(";", 1)[0]
        c.close()
        return r.status, data, elapsed


def main():
    work = tempfile.mkdtemp(prefix="panel-status-", dir=os.getcwd())
    try:
        run(work)
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p, signal.SIGKILL)
        if failures:
            for name in ("edge.log", "tap.log", "panel.log"):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    print("--- %s (last 30 lines) ---" % name)
                    print("".join(open(path, errors="replace").readlines()[-30:]), end="")
        shutil.rmtree(work, ignore_errors=True)


def run(work):
    c = os.path.join(work, "etc")
    s2s_port, ipc_port, panel_port, metrics_port = (free_port() for _ in range(4))
    endpoint = "tcp://127.0.0.1:%d" % ipc_port

    must(ctl(c, "init", "--hosted-domain", "contoso.example")[0] == 0, "xfedctl init")
    rc, _, err = ctl(c, "partner", "new", "fabrikam.example", "--type", "Federated")
    must(rc == 0, "partner fabrikam.example added (configuration version 2)")
    for args in (("keys", "init-edge"), ("keys", "add-gateway", "operator"),
                 ("keys", "add-gateway", "gw1")):
        must(ctl(c, *args)[0] == 0, "xfedctl " + " ".join(args))
    ca = s2s_partner.TestCA(os.path.join(work, "ca"), name="xfed status test CA")
    edge_cert, fab_cert = ca.issue("contoso.example"), ca.issue("fabrikam.example")
    with open(os.path.join(c, "edge.conf"), "w") as f:
        f.write('name = "edge-test";\nlisten = "127.0.0.1";\nport = %d;\nlisten_tls = "";\n'
                'cert_file = "%s";\nkey_file = "%s";\nca_file = "%s";\n'
                'ipc_endpoint = "%s";\n'
                % (s2s_port, edge_cert.chain, edge_cert.key, ca.cafile, endpoint))
    with open(os.path.join(c, "ops.conf"), "w") as f:
        f.write('# the edges the operator tools ask\nedges = "%s";\ntimeout_ms = 1500;\n'
                'cache_ms = 1000;\n' % endpoint)

    # Configuration mistakes are refused, by both tools, before anything runs.
    rc, _, err = ctl(c, "status", "--endpoint", "http://127.0.0.1:1")
    check(rc == 1 and "tcp://" in err, "xfedctl status refuses an endpoint that is not tcp:// or "
          "ipc:// (exit %d)" % rc)
    shutil.copy(os.path.join(c, "ops.conf"), os.path.join(c, "ops.conf.good"))
    with open(os.path.join(c, "ops.conf"), "w") as f:
        f.write('edges = "%s";\nno_such_key = 1;\n' % endpoint)
    rc, _, err = ctl(c, "status")
    check(rc == 1 and "no_such_key" in err, "xfedctl status: an unknown ops.conf key is an "
          "error with its line (exit %d)" % rc)
    p = subprocess.run([os.path.join(BIN, "xfed-panel"), "-c", c, "-n"], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 1 and "no_such_key" in p.stderr,
          "xfed-panel -n refuses the bad ops.conf (exit %d)" % p.returncode)
    shutil.copy(os.path.join(c, "ops.conf.good"), os.path.join(c, "ops.conf"))
    rc, _, err = ctl(c, "status", "--key", os.path.join(c, "keys", "gateway", "nobody"))
    check(rc == 1 and "cannot load the operator key pair" in err + _,
          "a missing operator key pair is reported, exit 1")

    edge = start([os.path.join(BIN, "xfed-edge"), "-c", c], os.path.join(work, "edge.log"))
    must(wait_port(s2s_port, 15, edge), "xfed-edge listens on 127.0.0.1:%d" % s2s_port)

    tap = start([XFEDCTL, "-c", c, "tap", "--endpoint", endpoint, "--key",
                 os.path.join(c, "keys", "gateway", "gw1"), "--name", "gw1", "--timeout", "120"],
                os.path.join(work, "tap.log"))
    must(wait_for(lambda: "connected to edge" in open(os.path.join(work, "tap.log")).read(), 15),
         "gateway gw1 (xfedctl tap) is connected to the edge")

    # The partner: one authenticated stream with two messages, one that has
    # only sent its header (TLS and authentication still to come).
    peer, what = s2s_partner.open_stream(s2s_port, "fabrikam.example", "contoso.example",
                                         fab_cert.chain, fab_cert.key, ca.cafile, messages=2)
    must(what.startswith("auth=sasl-external tls=TLSv1."),
         "the partner's stream is authenticated (%s)" % what)
    pending, _ = s2s_partner.open_stream(s2s_port, "fabrikam.example", "contoso.example")
    must(wait_for(lambda: open(os.path.join(work, "tap.log")).read().count("stanza id=") == 2,
                  15), "gateway gw1 got the partner's two messages")

    # --- xfedctl status ----------------------------------------------------
    rc, out, err = ctl(c, "status")
    print(out, end="")
    check(rc == 0, "xfedctl status exits 0 when every edge answered (exit %d, %s)" % (rc, err))
    check(re.search(r"^edge edge-test at %s: connected, configuration version 2 \(current\)"
                    % re.escape(endpoint), out, re.M) is not None,
          "xfedctl status: the edge, its configuration version 2, current")
    check(re.search(r"^  partner fabrikam\.example: 2 inbound, 0 outbound$", out, re.M)
          is not None, "xfedctl status: the partner's streams per direction")
    check(re.search(r"^    stream inbound id=\w+ local=contoso\.example tls=TLSv1\.[23] "
                    r"auth=sasl-external since=\d{4}-\d\d-\d\dT[\d:]+Z in=2 out=0$", out, re.M)
          is not None, "xfedctl status: the authenticated stream with TLS version, SASL "
          "EXTERNAL, since, 2 stanzas in")
    check(re.search(r"^    stream inbound id=\w+ local=contoso\.example tls=none auth=none "
                    r"since=\S+ in=0 out=0$", out, re.M) is not None,
          "xfedctl status: the stream still negotiating")
    check(re.search(r"^  gateway gw1: since \d{4}-\S+Z, unacked 0, users 1$", out, re.M)
          is not None, "xfedctl status: gateway gw1 with since, its queue depth and its share "
          "(1 user: bob@contoso.example)")
    check("ops:" not in out, "xfedctl status leaves operator sessions out of the gateways")

    rc, _, _ = ctl(c, "partner", "new", "northwind.example", "--type", "Federated")
    must(rc == 0, "a second partner moves the store to version 3 (the edge runs 2)")
    rc, out, err = ctl(c, "status", "--json")
    doc = json.loads(out)
    e = doc["edges"][0]
    check(rc == 0 and doc["available"] and doc["stored_config_version"] == 3,
          "xfedctl status --json: the store's version 3")
    check(e["connected"] and e["name"] == "edge-test" and e["config_version"] == 2
          and e["config_state"] == "stale", "xfedctl status --json: the edge runs 2, flagged "
          "stale")
    auth = sorted((x["auth_method"], x["tls_version"][:5], x["stanzas_in"]) for x in e["streams"])
    check(len(e["streams"]) == 2 and all(x["partner"] == "fabrikam.example"
                                         and x["direction"] == "inbound"
                                         and x["local"] == "contoso.example"
                                         for x in e["streams"])
          and auth == [("none", "", 0), ("sasl-external", "TLSv1", 2)],
          "xfedctl status --json: the partner's two streams (%s)" % auth)
    check(e["partners"] == [{"partner": "fabrikam.example", "inbound": 2, "outbound": 0}],
          "xfedctl status --json: streams per partner and direction")
    check([g["name"] for g in e["gateways"]] == ["gw1"] and e["gateways"][0]["unacked"] == 0
          and e["gateways"][0]["users"] == 1, "xfedctl status --json: gateway gw1, unacked 0, "
          "users 1")
    rc, out, _ = ctl(c, "status")
    check("configuration version 2 (STALE: the store has 3)" in out,
          "xfedctl status flags the stale configuration")

    # --- xfed-panel ---------------------------------------------------------
    must(ctl(c, "admin", "add", "vera", "--role", "viewer", "--password-stdin",
             stdin="viewer-password-1\n")[0] == 0, "a viewer account for the panel")
    notify_path = os.path.join(work, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(0.2)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="1000000")
    env.pop("WATCHDOG_PID", None)
    panel = start([os.path.join(BIN, "xfed-panel"), "-c", c, "-l", "127.0.0.1:%d" % panel_port,
                   "-o", "metrics_listen=127.0.0.1:%d" % metrics_port,
                   "-o", "cert=" + edge_cert.chain, "-o", "key=" + edge_cert.key],
                  os.path.join(work, "panel.log"), env=env)
    must(wait_port(panel_port, 15, panel), "xfed-panel listens on 127.0.0.1:%d" % panel_port)
    notes = []

    def drain():
        while True:
            try:
                notes.append(notify.recv(4096).decode())
            except socket.timeout:
                return
    drain()
    check(any(n.startswith("READY=1") for n in notes), "xfed-panel sent READY=1")
    t0 = time.time()
    wait_for(lambda: drain() or sum(n == "WATCHDOG=1" for n in notes) >= 2, 5)
    check(sum(n == "WATCHDOG=1" for n in notes) >= 2,
          "xfed-panel pings WATCHDOG=1 every half WATCHDOG_USEC (2 pings in %.1f s)"
          % (time.time() - t0))

    api = Panel(panel_port)
    st, body, _ = api.request("GET", "/api/status")
    check(st == 401, "GET /api/status needs a session (%d)" % st)
    st, body, _ = api.request("POST", "/api/session", {"name": "vera",
                                                       "password": "viewer-password-1"})
    must(st == 201, "the viewer signs in (%d)" % st)
    st, body, took = api.request("GET", "/api/status")
    doc = json.loads(body)
    e = doc["edges"][0]
    check(st == 200 and doc["available"] and doc["stored_config_version"] == 3
          and e["connected"] and e["config_version"] == 2 and e["config_state"] == "stale",
          "GET /api/status: the edge is connected and runs version 2 of 3 (stale)")
    check([x["partner"] for x in e["streams"]] == ["fabrikam.example"] * 2
          and [g["name"] for g in e["gateways"]] == ["gw1"],
          "GET /api/status: the stream and gateway gw1")
    print("     GET /api/status answered in %.0f ms, the edge in %d ms"
          % (took * 1000, e["answer_ms"]))
    st, body2, _ = api.request("GET", "/api/status")
    check(json.loads(body2)["cached"] is True,
          "a second GET within cache_ms is served from the cached answer")
    st, page, _ = api.request("GET", "/status")
    check(st == 200 and 'data-state="connected"' in page and "edge-test" in page
          and "fabrikam.example" in page and ">gw1<" in page and 'data-config="stale"' in page
          and "sasl-external" in page and "negotiating" in page,
          "the status page shows the connected edge, its streams, gw1 and the stale version")

    m = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
    m.request("GET", "/metrics")
    r = m.getresponse()
    text = r.read().decode()
    m.close()
    check(r.status == 200 and 'xfed_build_info{program="xfed-panel"' in text,
          "GET /metrics on metrics_listen answers with the panel's registry")
    check(re.search(r'^xfed_panel_signins_total\{result="ok"\} 1$', text, re.M) is not None,
          "xfed_panel_signins_total{result=\"ok\"} counts the sign-in")
    check(re.search(r"^xfed_panel_sessions 1$", text, re.M) is not None,
          "xfed_panel_sessions is 1")

    # --- the edge stops -------------------------------------------------------
    peer.close()
    pending.close()
    stop(tap)
    check(stop(edge) == 0, "xfed-edge stops on SIGTERM (exit 0)")
    rc, out, err = ctl(c, "status")
    check(rc == 1 and "not connected: no answer within 1.5 s" in out and "did not answer" in err,
          "xfedctl status: the edge is not connected, with the reason, exit 1 (%d)" % rc)
    rc, out, _ = ctl(c, "status", "--json")
    e = json.loads(out)["edges"][0]
    check(rc == 1 and not e["connected"] and e["config_version"] is None and e["reason"],
          "xfedctl status --json: connected false with the reason")
    time.sleep(1.1)  # past cache_ms
    st, body, took = api.request("GET", "/api/status")
    e = json.loads(body)["edges"][0]
    check(st == 200 and not e["connected"] and "no answer within 1.5 s" in e["reason"],
          "GET /api/status: the stopped edge is not connected, with the reason")
    check(took < 1.5 + 1.0, "the panel's answer waited at most the timeout (%.2f s)" % took)
    st, page, _ = api.request("GET", "/status")
    check('data-state="not-connected"' in page and "Not connected." in page,
          "the status page says Not connected")

    drain()
    panel.send_signal(signal.SIGTERM)
    rc = stop(panel)
    drain()
    check(rc == 0 and "STOPPING=1" in notes, "xfed-panel stops on SIGTERM with STOPPING=1")
    notify.close()
    log = open(os.path.join(work, "panel.log")).read()
    secret = open(os.path.join(c, "keys", "gateway", "operator.key")).read().strip()
    check(secret not in log, "the panel's log holds no secret key")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a required step failed: report it as a failure
        failures.append(str(exc))
        print("FAIL %s" % exc)
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)
