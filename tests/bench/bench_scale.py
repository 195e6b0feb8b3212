#!/usr/bin/python3
"""Scale-out benchmark (issue 6): end-to-end XMPP -> SIP messages per second
with 1, 2 and 3 gateways behind one edge, all sharing one PostgreSQL 15
store (started here in its own data directory), Kamailio 5.6 with the
dispatcher (tests/gateway/kamailio/kamailio.cfg -A WITH_DISPATCHER), in the
lab of tests/gateway/gwlab.py:

  a raw s2s peer for fabrikam.example (TLS + SASL EXTERNAL) writes <message/>s
  to bob0..bob49@contoso.example -> xfed-edge (spreads the users over the live
  gateways by rendezvous hash) -> N x xfed-gateway -> Kamailio -> the SIP sink
  (bench_gateway_e2e_sip sink: 50 registered users answering 200)

Each gateway count gets a fresh lab; the peer offers --count messages at once
after a warm-up, and the sink's span gives messages/s. CPU seconds of the
edge, of all gateways together and of Kamailio are printed per run (the
machine's cores are shared: a gateway count that does not raise messages/s
is bounded by CPU, which the CPU figures show). Failover figures (recovery,
lost, duplicated) come from tests/gateway/scale_failover.py.

    bench_scale.py [--quick] [--count N] [--gateways 1,2,3]

--quick (ctest smoke): 1 and 3 gateways, 2,000 messages, fails unless every
message arrives. Needs root.
"""

import argparse
import os
import resource
import socket
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("XFED_SRC", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "gateway"))
sys.path.insert(0, HERE)

from gwlab import HOSTED, PARTNER, GatewayLab  # noqa: E402
from harness import Lab  # noqa: E402
from edge_bench import cpu_seconds, sasl_stream  # noqa: E402
from bench_gateway_e2e import SipSink, group_cpu, stanzas  # noqa: E402
from pg_store_test import PgServer  # noqa: E402
from scale_failover import Gateways, start_kamailio  # noqa: E402


def cpu(g, gws):
    return {"edge": cpu_seconds(g.edge.proc.pid),
            "gateways": sum(cpu_seconds(gws.procs[n].pid) for n in gws.names),
            "kamailio": group_cpu(g.kam.pid)}


def note(t0, what):
    print("# %5.1f s %s" % (time.monotonic() - t0, what), flush=True)


def run(n, count):
    t0 = time.monotonic()
    with PgServer(dbname="xfedbench") as pg, Lab() as lab:
        store = "postgresql:" + pg.conninfo
        g = GatewayLab(lab, gw_local=dict(state_db=store, queue_max=2000000, error_wait_ms=500),
                       kam_globals="tcp_conn_wq_max=16777216\ntcp_wq_max=67108864")
        gws = Gateways(g, store, count=n)
        start_kamailio(g, count=n)
        g.edge.start()
        for name in gws.names:
            gws.start(name)
        for name in gws.names:
            if not gws.wait_up(name, 30):
                raise RuntimeError("%s did not connect:\n%s" % (name, gws.all_logs()))
        note(t0, "%d gateway(s) up" % n)
        peer = sasl_stream(g.fed.partner, g.fed.edge.ip, HOSTED, PARTNER, g.fed.certs[PARTNER],
                           g.fed.ca.cafile)
        peer.sock.settimeout(600)
        peer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        warm = SipSink(g, 500, timeout=10)
        peer.sock.sendall(stanzas(0, 500))
        warm.result(timeout=120)
        note(t0, "warmed up")
        sink = SipSink(g, count, timeout=60)
        c0 = cpu(g, gws)
        peer.sock.sendall(stanzas(500, count))
        res = sink.result(timeout=600)
        c1 = cpu(g, gws)
        res.update({"cpu_" + k: "%.2f" % (c1[k] - c0[k]) for k in c0})
        note(t0, "measured")
        peer.close()
        alive = all(gws.procs[name].alive() for name in gws.names) and g.edge.alive()
        return res, alive


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--gateways", default="1,2,3")
    a = ap.parse_args()
    if a.quick:
        a.count, a.gateways = 2000, "1,3"
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    failures = 0
    for n in [int(x) for x in a.gateways.split(",") if x]:
        t0 = time.monotonic()
        res, alive = run(n, a.count)
        print("gateways=%d offered=%d %s (%.0f s)" % (n, a.count, " ".join(
            "%s=%s" % kv for kv in sorted(res.items())), time.monotonic() - t0), flush=True)
        if int(res.get("received", 0)) < a.count or not alive:
            failures += 1
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
