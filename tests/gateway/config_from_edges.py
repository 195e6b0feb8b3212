#!/usr/bin/env python3
"""Configuration with several gateways (issue 6 item 3), end to end on loopback.

One host holds the store (directory S, `xfedctl`): its gateway gwA reads it
(config_from = store) and pushes every new version to the edge. A second
gateway gwB has no store (config_from = edges, its own directory without
xfed.conf): it runs what the edges push, kept in config_cache. Checked:

  1. gwB starts empty (version 0) and takes the edge's version 1;
  2. `xfedctl partner new` on S makes version 2: gwA pushes it, the edge
     applies it and pushes it on, gwB reloads version 2 with the partner;
  3. gwB restarted while no edge runs starts from its cache at version 2;
  4. a second edge E2 still at version 1 (a copy of S before step 2) pushes
     its older version to gwB: ignored and logged, gwB keeps version 2;
  5. a store gateway gwC whose store is at version 1 gets the edge's
     version 2: refused, because its store decides (logged on both sides),
     and the edge does not go back to version 1;
  6. operator tools never take stanzas: `xfedctl status` connected to the
     edge while messages arrive gets none (gwA takes them all).

Real xfed-edge and xfed-gateway processes, keys from `xfedctl keys`,
certificates from the harness's test CA. Every wait is bounded; every
process started here is stopped by its pid; the temporary directory (in the
working directory, the build tree under ctest) is removed. Needs XFED_BIN."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "panel"))
import s2s_partner  # noqa: E402
from s2s_partner import TestCA  # noqa: E402
from harness.checks import check, failures, free_port, must  # noqa: E402
from harness.checks import poll as wait_for  # noqa: E402

BIN = os.environ.get("XFED_BIN")
if not BIN:
    sys.exit("XFED_BIN is not set")
XFEDCTL = os.path.join(BIN, "xfedctl")
procs = []


def ctl(confdir, *args):
    p = subprocess.run([XFEDCTL, "-c", confdir, *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


class Proc:
    def __init__(self, name, argv, log):
        self.name, self.argv, self.log = name, argv, log
        self.p = None

    def start(self):
        self.f = open(self.log, "a")
        self.p = subprocess.Popen(self.argv, stdout=self.f, stderr=subprocess.STDOUT)
        procs.append(self)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self.p:
            self.f.close()

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def has(self, pattern):
        return re.search(pattern, self.text()) is not None


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def edge_conf(d, name, port, endpoint, cert, ca):
    write(os.path.join(d, "edge.conf"),
          'name = "%s";\nlisten = "127.0.0.1";\nport = %d;\nlisten_tls = "";\n'
          'cert_file = "%s";\nkey_file = "%s";\nca_file = "%s";\nipc_endpoint = "%s";\n'
          % (name, port, cert.chain, cert.key, ca.cafile, endpoint))


def gateway_conf(d, name, edges, keydir, mode, work, extra=""):
    write(os.path.join(d, "gateway.conf"),
          'name = "%s";\nedges = "%s";\nedge_keys = "%s";\nipc_key = "%s";\n'
          'sip_server = "127.0.0.1:%d";\nsip_listen = "127.0.0.1";\nsip_port = %d;\n'
          'state_db = "%s";\nconf_check_ms = 200;\nconfig_from = "%s";\n%s'
          % (name, ", ".join(edges), ", ".join([os.path.join(keydir, "edge.pub")] * len(edges)),
             os.path.join(keydir, "gateway", name), free_port(), free_port(),
             os.path.join(work, name, "state.db"), mode, extra))


def main():
    work = tempfile.mkdtemp(prefix="config-from-edges-", dir=os.getcwd())
    try:
        run(work)
    finally:
        for p in procs:
            p.stop(signal.SIGKILL)
        if failures:
            for name in sorted(os.listdir(work)):
                if name.endswith(".log"):
                    print("--- %s (last 25 lines) ---" % name)
                    with open(os.path.join(work, name), errors="replace") as f:
                        print("".join(f.readlines()[-25:]), end="")
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def run(work):
    S = os.path.join(work, "store")
    must(ctl(S, "init", "--hosted-domain", "contoso.example")[0] == 0, "xfedctl init (version 1)")
    for args in (("keys", "init-edge"), ("keys", "add-gateway", "operator"),
                 ("keys", "add-gateway", "gwA"), ("keys", "add-gateway", "gwB"),
                 ("keys", "add-gateway", "gwC")):
        must(ctl(S, *args)[0] == 0, "xfedctl " + " ".join(args))
    keys = os.path.join(S, "keys")
    ca = TestCA(os.path.join(work, "ca"), name="xfed config push test CA")
    cert = ca.issue("contoso.example")
    fab = ca.issue("fabrikam.example")
    s2s1, ipc1, s2s2, ipc2 = (free_port() for _ in range(4))
    ep1, ep2 = "tcp://127.0.0.1:%d" % ipc1, "tcp://127.0.0.1:%d" % ipc2
    edge_conf(S, "edge1", s2s1, ep1, cert, ca)
    write(os.path.join(S, "ops.conf"), 'edges = "%s";\ntimeout_ms = 1500;\ncache_ms = 0;\n' % ep1)
    # E2's directory: the store as it is now (version 1), the same keys.
    E2 = os.path.join(work, "edge2")
    shutil.copytree(S, E2)
    edge_conf(E2, "edge2", s2s2, ep2, cert, ca)
    for n in ("gwA", "gwB", "gwC"):
        os.makedirs(os.path.join(work, n))
    gateway_conf(S, "gwA", [ep1], keys, "store", work)
    B = os.path.join(work, "gwB-conf")
    os.makedirs(B)
    cache = os.path.join(work, "gwB", "xfed.conf")
    gateway_conf(B, "gwB", [ep1, ep2], keys, "edges", work, 'config_cache = "%s";\n' % cache)
    C = os.path.join(work, "gwC-conf")
    shutil.copytree(E2, C)  # a store at version 1
    gateway_conf(C, "gwC", [ep1], keys, "store", work)

    p = subprocess.run([os.path.join(BIN, "xfed-gateway"), "-n", "-c", B], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0 and "configuration version 0" in p.stdout,
          "gwB without a store and without a cache checks as version 0 (exit %d: %s%s)"
          % (p.returncode, p.stdout.strip(), p.stderr.strip()))
    bad = os.path.join(work, "bad-conf")
    os.makedirs(bad)
    gateway_conf(bad, "gwB", [ep1], keys, "edges", work, 'config_cache = "relative.conf";\n')
    p = subprocess.run([os.path.join(BIN, "xfed-gateway"), "-n", "-c", bad], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 1 and "config_cache" in p.stderr,
          "a relative config_cache is refused (exit %d)" % p.returncode)
    gateway_conf(bad, "gwB", [ep1], keys, "elsewhere", work)
    p = subprocess.run([os.path.join(BIN, "xfed-gateway"), "-n", "-c", bad], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 1 and "config_from" in p.stderr,
          "config_from other than store or edges is refused (exit %d)" % p.returncode)

    edge1 = Proc("edge1", [os.path.join(BIN, "xfed-edge"), "-c", S],
                 os.path.join(work, "edge1.log")).start()
    gwa = Proc("gwA", [os.path.join(BIN, "xfed-gateway"), "-c", S],
               os.path.join(work, "gwA.log")).start()
    gwb = Proc("gwB", [os.path.join(BIN, "xfed-gateway"), "-c", B],
               os.path.join(work, "gwB.log")).start()

    # 1. gwB takes version 1 from the edge.
    check(wait_for(lambda: gwb.has(r"event=start .*conf_version=0"), 15),
          "1. gwB starts with the empty configuration (version 0)")
    check(wait_for(lambda: gwb.has(r"event=config-push outcome=applied version=1 "), 15),
          "1. gwB takes version 1 pushed by the edge")
    check(wait_for(lambda: gwb.has(r"event=reload version=1 partners=0 hosted=1"), 15),
          "1. gwB reloads version 1 from its cache (hosted contoso.example)")
    check(wait_for(lambda: edge1.has(r"event=config-ack gateway=gwB version=1 outcome=applied"),
                   10), "1. the edge logs gwB's acknowledgement")

    # 2. A change in the store reaches gwB through gwA and the edge.
    rc, out, err = ctl(S, "partner", "new", "fabrikam.example", "--type", "Federated")
    must(rc == 0, "2. xfedctl partner new fabrikam.example (version 2)")
    check(wait_for(lambda: edge1.has(r"event=config-push outcome=applied version=2"), 15),
          "2. gwA pushed version 2 and the edge applied it")
    check(wait_for(lambda: gwb.has(r"event=reload version=2 partners=1"), 15),
          "2. gwB runs version 2 with the new partner")
    with open(cache) as f:
        text = f.read()
    check("version = 2L;" in text and "fabrikam.example" in text,
          "2. gwB's cache holds version 2 with fabrikam.example")

    # 6. Operator tools never take stanzas: messages to 150 different users
    # (spread by the edge's rendezvous hash) while `xfedctl status` sessions
    # come and go; a session handed a stanza says so on its stderr.
    errs = os.path.join(work, "status.err")
    status = subprocess.Popen(["sh", "-c", 'for i in $(seq 40); do "$0" -c "$1" status '
                               '>/dev/null; done 2>"$2"', XFEDCTL, S, errs])
    peer, how = s2s_partner.open_stream(s2s1, "fabrikam.example", "contoso.example",
                                        cert=fab.chain, key=fab.key, cafile=ca.cafile)
    for i in range(150):
        peer.send("<message from='ann@fabrikam.example' to='user%d@contoso.example' "
                  "id='o%d' type='chat'><body>ops test %d</body></message>" % (i, i, i))
        time.sleep(0.02)
    status.wait(timeout=120)
    peer.close()
    with open(errs) as f:
        err_text = f.read()
    sessions = edge1.text().count("event=gateway-up gateway=ops:")
    check(sessions >= 5 and "handed a" not in err_text,
          "6. %d xfedctl status sessions overlapped 150 messages and none was handed a stanza%s"
          % (sessions, "" if "handed a" not in err_text else ": " + err_text.strip()[:200]))

    # The shares: the 150 users spread over the two gateways of edge1.
    rc, out, err = ctl(S, "status", "--json")
    shares = {}
    if rc == 0:
        for g in json.loads(out)["edges"][0]["gateways"]:
            shares[g["name"]] = g["users"]
    check(set(shares) == {"gwA", "gwB"} and sum(shares.values()) == 150 and
          min(shares.values()) >= 40, "6. xfedctl status shows each gateway's share of the 150 "
          "users: %s" % shares)

    # 3. gwB restarts from its cache while no edge runs.
    edge1.stop()
    gwb.stop()
    gwb2 = Proc("gwB", [os.path.join(BIN, "xfed-gateway"), "-c", B],
                os.path.join(work, "gwB-restart.log")).start()
    check(wait_for(lambda: gwb2.has(r"event=start .*conf_version=2 partners=1"), 15),
          "3. gwB restarted without an edge runs version 2 from its cache")

    # 4. An edge still at version 1 pushes it to gwB: ignored.
    edge2 = Proc("edge2", [os.path.join(BIN, "xfed-edge"), "-c", E2],
                 os.path.join(work, "edge2.log")).start()
    check(wait_for(lambda: gwb2.has(r"event=config-push outcome=ignored version=1 running=2"),
                   20), "4. gwB ignores edge2's older version 1 and says so")
    check(wait_for(lambda: edge2.has(r"event=config-ack gateway=gwB version=1 outcome=refused "
                                     r"reason=\"version 1 is older than 2; ignored\""), 10),
          "4. edge2 logs the refusal with the reason")
    time.sleep(0.5)
    check(not gwb2.has(r"event=reload version=1"), "4. gwB did not go back to version 1")

    # 5. A store gateway with an older store against an edge at version 2.
    edge1b = Proc("edge1", [os.path.join(BIN, "xfed-edge"), "-c", S],
                  os.path.join(work, "edge1-restart.log")).start()
    gwc = Proc("gwC", [os.path.join(BIN, "xfed-gateway"), "-c", C],
               os.path.join(work, "gwC.log")).start()
    check(wait_for(lambda: gwc.has(r"event=config-push outcome=refused version=2 reason=\"version"
                                   r" 2 is newer than this gateway's store \(1\); config_from = "
                                   r"store"), 20),
          "5. gwC (store at version 1) refuses the edge's version 2: its store decides")
    check(wait_for(lambda: edge1b.has(r"event=config-push outcome=refused version=1") or
                   edge1b.has(r"config-ack gateway=gwC version=2 outcome=refused"), 10),
          "5. the edge logs gwC's refusal")
    check(not edge1b.has(r"event=reload version=1 "), "5. the edge stays at version 2")
    for p in (gwc, edge1b, edge2, gwb2, gwa):
        p.stop()
    check(all(p.p.returncode == 0 for p in (gwc, edge1b, edge2, gwb2, gwa)),
          "every process stopped cleanly on SIGTERM")


if __name__ == "__main__":
    main()
