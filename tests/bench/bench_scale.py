#!/usr/bin/python3
"""Scale-out benchmark (issue 6): end-to-end messages per second, both
directions, with 1, 2 and 3 gateways behind one edge, all sharing one
PostgreSQL 15 store (started here in its own data directory), Kamailio 5.6
with the dispatcher (tests/gateway/kamailio/kamailio.cfg -A WITH_DISPATCHER),
in the lab of tests/gateway/gwlab.py:

  xmpp2sip  a raw s2s peer for fabrikam.example (TLS + SASL EXTERNAL) writes
            <message/>s to bob0..bob49@contoso.example -> xfed-edge (spreads the
            users over the live gateways by rendezvous hash) -> N x xfed-gateway
            -> Kamailio -> the SIP sink (bench_gateway_e2e_sip sink: 50
            registered users answering 200)
  sip2xmpp  the SIP source (bench_gateway_e2e_sip source --users 50: carol0..
            carol49@contoso.example, up to 5,000 transactions open) -> Kamailio
            (the dispatcher hashes the From URI over the gateways) -> N x
            xfed-gateway -> xfed-edge -> its outbound s2s stream -> a raw s2s
            server for fabrikam.example counting the messages
            (bench_gateway_e2e.XmppSink)

Each gateway count and direction gets a fresh lab; after a warm-up the
direction is offered --count messages at once, and the receiving end's span
gives messages/s. CPU seconds of the edge, of all gateways together and of
Kamailio are printed per run (the machine's cores are shared: a gateway
count that does not raise messages/s is bounded by CPU, which the CPU
figures show). Failover figures come from tests/gateway/scale_failover.py
(XMPP -> SIP) and tests/gateway/dispatch_failover.py (SIP -> XMPP).

    bench_scale.py [--quick] [--count N] [--gateways 1,2,3]
                   [--direction xmpp2sip|sip2xmpp|both]

--quick (ctest smoke): 1 and 3 gateways, 2,000 messages each way, fails
unless every message arrives. Needs root.
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
from bench_gateway_e2e import SipSink, XmppSink, group_cpu, sip_source, stanzas  # noqa: E402
from pg_store_test import PgServer  # noqa: E402
from scale_failover import Gateways, start_kamailio  # noqa: E402


def cpu(g, gws):
    return {"edge": cpu_seconds(g.edge.proc.pid),
            "gateways": sum(cpu_seconds(gws.procs[n].pid) for n in gws.names),
            "kamailio": group_cpu(g.kam.pid)}


def note(t0, what):
    print("# %5.1f s %s" % (time.monotonic() - t0, what), flush=True)


SENDERS = 50  # SIP users sending toward XMPP (the From URIs the dispatcher hashes)


def sip2xmpp(g, gws, xs, count):
    """count MESSAGEs offered at once (window 5,000); the XMPP side's figures."""
    xs.reset()
    c0 = cpu(g, gws)
    src = sip_source(g, count, window=5000, users=SENDERS)
    res = xs.wait(count, 120)
    c1 = cpu(g, gws)
    res.update({"cpu_" + k: "%.2f" % (c1[k] - c0[k]) for k in c0})
    res.update({"sip_" + k: v for k, v in src.items() if k in ("ok", "4xx", "5xx", "6xx")})
    return res


def run(n, count, directions):
    t0 = time.monotonic()
    out = {}
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
        if "xmpp2sip" in directions:
            peer = sasl_stream(g.fed.partner, g.fed.edge.ip, HOSTED, PARTNER,
                               g.fed.certs[PARTNER], g.fed.ca.cafile)
            peer.sock.settimeout(600)
            peer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            warm = SipSink(g, 500, timeout=10)
            peer.sock.sendall(stanzas(0, 500))
            warm.result(timeout=120)
            note(t0, "xmpp2sip warmed up")
            sink = SipSink(g, count, timeout=60)
            c0 = cpu(g, gws)
            peer.sock.sendall(stanzas(500, count))
            res = sink.result(timeout=600)
            c1 = cpu(g, gws)
            res.update({"cpu_" + k: "%.2f" % (c1[k] - c0[k]) for k in c0})
            note(t0, "xmpp2sip measured")
            peer.close()
            out["xmpp2sip"] = res
        if "sip2xmpp" in directions:
            xs = XmppSink(g)  # fabrikam.example's s2s server (no Prosody here)
            warm = sip2xmpp(g, gws, xs, 500)
            if int(warm.get("received", 0)) < 500:
                raise RuntimeError("sip2xmpp warm-up: %s\n%s" % (warm, gws.all_logs()))
            note(t0, "sip2xmpp warmed up")
            out["sip2xmpp"] = sip2xmpp(g, gws, xs, count)
            if xs.error:
                out["sip2xmpp"]["xmpp_sink_error"] = xs.error.replace(" ", "_")
            note(t0, "sip2xmpp measured")
        alive = all(gws.procs[name].alive() for name in gws.names) and g.edge.alive()
        return out, alive


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--gateways", default="1,2,3")
    ap.add_argument("--direction", default="both", choices=("xmpp2sip", "sip2xmpp", "both"))
    a = ap.parse_args()
    if a.quick:
        a.count, a.gateways = 2000, "1,3"
    directions = ("xmpp2sip", "sip2xmpp") if a.direction == "both" else (a.direction,)
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    failures = 0
    for n in [int(x) for x in a.gateways.split(",") if x]:
        for d in directions:  # a fresh lab each: one direction's backlog does not skew the other
            t0 = time.monotonic()
            out, alive = run(n, a.count, (d,))
            res = out.get(d, {})
            print("gateways=%d direction=%s offered=%d %s (%.0f s)" % (n, d, a.count, " ".join(
                "%s=%s" % kv for kv in sorted(res.items())), time.monotonic() - t0), flush=True)
            if int(res.get("received", 0)) < a.count or not alive:
                failures += 1
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
