#!/usr/bin/python3
"""SIP -> XMPP failover through Kamailio's dispatcher (issue 6 item 1), with
real peers in network namespaces (tests/gateway/gwlab.py):

  bench_gateway_e2e_sip source: MESSAGEs at a steady rate from carol0..carolK
  @contoso.example to alice@fabrikam.example over TCP
    -> Kamailio 5.6 with -A WITH_DISPATCHER (set 1 = three gateways, hash
       over the From URI, OPTIONS probes each second, failure_route
       GW_FAILOVER) and -A WITH_DS_TRACE (one log line per gateway choice)
    -> xfed-gateway gw1, gw2, gw3 (one PostgreSQL 15 store, started here)
    -> xfed-edge -> its outbound s2s stream -> a raw s2s server for
       fabrikam.example (bench_gateway_e2e.XmppSink) counting each message
       by its number (the body's "i=<n>")

Failover: gw2 is killed with SIGKILL while the load runs and started
again GW_DOWN_S later. Checks: every message got a final response; every
one answered 2xx arrived exactly once at the XMPP side; none arrived twice;
the failures are reported (count, codes, how many of them arrived anyway);
the time from the kill until the dispatcher last chose gw2 and until its
probes marked gw2 down are measured and bounded; after the restart the
probes mark gw2 up and it carries messages again.

PostgreSQL outage: the store's server is stopped for PG_DOWN_S seconds
while the load goes on and started again. Messages need no store: they all
arrive; the gateways keep running, log the lost connection and reconnect;
a SIP SUBSCRIBE toward the partner while the store is down is answered
with an error (not accepted and then forgotten), and so is a partner's
<presence type='subscribe'/> (resource-constraint); after the reconnection
both are accepted and stored.

    dispatch_failover.py [--rate R] [--seconds S]

Needs root. About a minute.
"""

import argparse
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("XFED_SRC", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "bench"))
sys.path.insert(0, HERE)

from gwlab import HOSTED, PARTNER, SIP_PORT, GatewayLab, check, run_test  # noqa: E402
from harness import Lab, xfed_bin  # noqa: E402
from harness.netns import wait_for  # noqa: E402
from pg_store_test import PG_BIN, PgServer  # noqa: E402
from scale_failover import GATEWAYS, Gateways, start_kamailio  # noqa: E402
from bench_gateway_e2e import XmppSink  # noqa: E402
from edge_bench import sasl_stream  # noqa: E402

KILLED = "gw2"
SENDERS = 30  # carol0..carol29: the From URIs the dispatcher hashes
KILL_AT_S = 0.3  # of the run
GW_DOWN_S = 5.0
PG_DOWN_S = 4.0
# The dispatcher stops choosing a dead gateway after the first request that
# fails on it (ds_mark_dst) or its first failed probe (ds_ping_interval 1 s).
STOP_MAX_S = 3.0
# A restarted gateway answers the next probe: back within a few seconds.
BACK_MAX_S = 5.0


class Source:
    """bench_gateway_e2e_sip source with --ids 1: the final response of each
    message as it arrives."""

    def __init__(self, g, count, rate, first_user=0, timeout=120):
        cmd = [xfed_bin("bench_gateway_e2e_sip"), "source", "--server",
               "%s:%d" % (g.sip.ip, SIP_PORT), "--domain", HOSTED, "--from", "carol",
               "--to", "alice@" + PARTNER, "--count", str(count), "--rate", str(rate),
               "--window", "5000", "--timeout", str(timeout), "--users", str(SENDERS),
               "--ids", "1"]
        self.g = g
        self.lock = threading.Lock()
        self.finals = {}  # message number -> [(code, realtime ns)]
        self.result = None
        self.t0_ns = time.time_ns()
        self.proc = g.sip.spawn(cmd, name="sip-source", pipe=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.popen.stdout:
            m = re.match(r"final (\d+) (\d+) (\d+)", line)
            if m:
                with self.lock:
                    self.finals.setdefault(int(m.group(1)), []).append(
                        (int(m.group(2)), int(m.group(3))))
            elif line.startswith("result "):
                self.result = dict(kv.split("=") for kv in line.split()[1:])

    def wait(self, timeout):
        rc = self.proc.wait(timeout)
        self.thread.join(5)
        if rc is None:
            self.g.lab.forget(self.proc)
        return rc

    def outcome(self):
        with self.lock:
            return {i: v[0][0] for i, v in self.finals.items()}


def trace(g, since_ns=0):
    """Kamailio's ds-trace lines: [(t ns, kind, message number, gateway port)]
    (kind: select, next, failure); and the dispatcher's down/up events
    [(t ns, "down"|"up", port)]."""
    sel, events = [], []
    for line in g.kam_log().splitlines():
        m = re.search(r"ds-trace (select|next|failure) t=(\d+)\.(\d+) ci=s(\d+)-\S* "
                      r"du=sip:[\d.]+:(\d+)", line)
        if m:
            t = int(m.group(2)) * 10**9 + int(m.group(3)) * 1000
            if t >= since_ns:
                sel.append((t, m.group(1), int(m.group(4)), int(m.group(5))))
            continue
        m = re.search(r"dispatcher: gateway (down|up) t=(\d+)\.(\d+) .*?sip:[\d.]+:(\d+)", line)
        if m:
            t = int(m.group(2)) * 10**9 + int(m.group(3)) * 1000
            if t >= since_ns:
                events.append((t, m.group(1), int(m.group(4))))
    return sel, events


def pg_ctl(pg, *args):
    """pg_ctl as the server's user (stop/start the test's own server)."""
    cmd = [os.path.join(PG_BIN, "pg_ctl")] + list(args) + ["-D", pg.data, "-w", "-t", "30"]
    if pg.user:
        cmd = ["runuser", "-u", pg.user, "--"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "pg_ctl %s" % args[0], r.stdout + r.stderr)


def failover_phase(g, gws, xs, rate, seconds, dumps):
    port_of = dict(GATEWAYS)
    killed_port = port_of[KILLED]
    count = int(rate * seconds)
    xs.reset()
    src = Source(g, count, rate, timeout=int(seconds) + 60)
    t0 = time.monotonic()
    wait_for(lambda: time.monotonic() - t0 >= seconds * KILL_AT_S, seconds + 5,
             what="the kill time")
    kill_ns = time.time_ns()
    gws.procs[KILLED].signal(signal.SIGKILL)
    check(gws.procs[KILLED].wait(10) is not None, "%s killed (SIGKILL) at %.1f s of the run"
          % (KILLED, time.monotonic() - t0))
    g.lab.forget(gws.procs[KILLED])
    time.sleep(GW_DOWN_S)
    restart_ns = time.time_ns()
    gws.start(KILLED)
    check(gws.wait_up(KILLED, 30), "%s restarted and connected to the edge" % KILLED, *dumps)
    rc = src.wait(seconds + 90)
    check(rc is not None and src.result is not None,
          "the SIP source finished (rc %s): %s" % (rc, src.result), *dumps)
    outcome = src.outcome()
    check(len(outcome) == count, "every one of the %d MESSAGEs got a final response (%d)"
          % (count, len(outcome)), *dumps)
    ok = {i for i, c in outcome.items() if 200 <= c < 300}
    failed = {i: c for i, c in outcome.items() if c >= 300}
    wait_for(lambda: ok <= set(xs.ids), 30, what="the accepted messages at the XMPP side")
    time.sleep(2)  # late duplicates
    with xs.lock:
        ids = dict(xs.ids)
    missing = sorted(ok - set(ids))
    twice = sorted(i for i, n in ids.items() if n > 1)
    failed_arrived = sorted(i for i in failed if i in ids)
    codes = {}
    for c in failed.values():
        codes[c] = codes.get(c, 0) + 1

    sel, events = trace(g, src.t0_ns)
    first_choice = {i: p for _, kind, i, p in sel if kind == "select"}
    by_port = {}
    for i in ok:
        p = first_choice.get(i)
        by_port[p] = by_port.get(p, 0) + 1
    # the dispatcher's last choice of the dead gateway (the first pick, or the
    # next one after a failure) before it was restarted
    to_dead = [t for t, kind, _, p in sel if kind in ("select", "next") and p == killed_port and
               kill_ns <= t < restart_ns]
    last_dead = max(to_dead) if to_dead else kill_ns
    stop_s = (last_dead - kill_ns) / 1e9
    down = [t for t, e, p in events if e == "down" and p == killed_port and t >= kill_ns]
    up = [t for t, e, p in events if e == "up" and p == killed_port and t >= restart_ns]
    back = [t for t, kind, i, p in sel if kind == "select" and p == killed_port and
            t >= restart_ns and i in ok]
    failovers = sum(1 for _, kind, _, _ in sel if kind == "next")
    print("RESULT sip2xmpp_failover messages=%d rate=%d ok=%d failed=%d failure_codes=%s "
          "failed_but_arrived=%d lost=%d duplicated=%d failovers=%d dead_chosen=%d "
          "stop_using_dead_s=%.3f marked_down_s=%s probe_up_after_restart_s=%s "
          "back_in_use_s=%s ok_by_gateway_port=%s"
          % (count, rate, len(ok), len(failed), sorted(codes.items()), len(failed_arrived),
             len(missing), len(twice), failovers, len(to_dead), stop_s,
             "%.3f" % ((down[0] - kill_ns) / 1e9) if down else "-",
             "%.3f" % ((up[0] - restart_ns) / 1e9) if up else "-",
             "%.3f" % ((min(back) - restart_ns) / 1e9) if back else "-",
             sorted(by_port.items(), key=lambda kv: kv[0] or 0)), flush=True)
    check(not missing, "every MESSAGE answered 2xx arrived at the XMPP side (missing %d: %s)"
          % (len(missing), missing[:10]), *dumps)
    check(not twice, "no message arrived twice (%d: %s)" % (len(twice), twice[:10]), *dumps)
    check(all(c in (408, 500, 503) or c >= 500 for c in failed.values()),
          "the failures are timeouts or server errors: %s" % sorted(codes.items()))
    check(len(failed) <= rate * STOP_MAX_S,
          "failures bounded by the time to stop using %s: %d" % (KILLED, len(failed)))
    check(stop_s < STOP_MAX_S, "the dispatcher stopped choosing %s %.3f s after the kill "
          "(< %.1f s)" % (KILLED, stop_s, STOP_MAX_S), g.kam_log)
    check(down, "%s was marked down (refused connection or failed probe)" % KILLED, g.kam_log)
    check(up and (up[0] - restart_ns) / 1e9 < BACK_MAX_S,
          "the probes marked the restarted %s up within %.0f s" % (KILLED, BACK_MAX_S), g.kam_log)
    check(back, "the restarted %s carries messages again (%d accepted)" % (KILLED, len(back)),
          *dumps)
    check(len(by_port) == 3 and None not in by_port,
          "the accepted messages went through the three gateways: %s" % by_port)


def subscribe(g, user, port):
    """user@contoso.example SUBSCRIBEs to alice@fabrikam.example's presence
    (sipp, tests/gateway/sipp/subscribe_once.xml); returns the final code."""
    s = g.sipp(os.path.join(HERE, "sipp", "subscribe_once.xml"),
               {"user": user, "domain": HOSTED, "peer": "alice@" + PARTNER}, port=port,
               timeout=20)
    s.wait(30)
    return s.final_code(), s


def pg_query(pg, sql):
    """One value from the test's own server (psql over its socket)."""
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-h", pg.sock, "-p", str(pg.port), "-U",
                        "postgres", "-d", pg.dbname, "-Atc", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        check(False, "psql %s" % sql, r.stdout + r.stderr)
    return r.stdout.strip()


def pg_outage_phase(g, gws, xs, pg, rate, seconds, dumps):
    count = int(rate * seconds)
    # fabrikam's inbound stream to the edge (the raw peer of the benchmarks)
    peer = sasl_stream(g.fed.partner, g.fed.edge.ip, HOSTED, PARTNER, g.fed.certs[PARTNER],
                       g.fed.ca.cafile)
    xs.reset()
    logs0 = {n: len(gws.log(n)) for n in gws.names}
    src = Source(g, count, rate, timeout=int(seconds) + 60)
    time.sleep(seconds * 0.2)
    pg_ctl(pg, "stop", "-m", "fast")
    t_stop = time.monotonic()
    print("# PostgreSQL stopped", flush=True)
    code, s = subscribe(g, "dave0", g.port())
    print("# SUBSCRIBE during the outage: %s" % code, flush=True)
    check(code is not None and code >= 300,
          "a SUBSCRIBE while the store is down is refused (%s), not accepted and lost" % code,
          s.messages, *dumps)
    # the XMPP side: a partner user subscribes to a SIP user's presence
    peer.send("<presence from='alice@%s' to='dave2@%s' type='subscribe' id='pgsub1'/>"
              % (PARTNER, HOSTED))
    wait_for(lambda: any("pgsub1" in p for p in xs.presences), 10,
             what="an answer to the presence subscription")
    err = [p for p in xs.presences if "pgsub1" in p][0]
    check("type='error'" in err.replace('"', "'") and "resource-constraint" in err,
          "an XMPP subscription while the store is down gets a resource-constraint error: %s"
          % err, *dumps)
    time.sleep(max(0.0, PG_DOWN_S - (time.monotonic() - t_stop)))
    pg_ctl(pg, "start", "-o", pg.opts, "-l", pg.log)
    t_start = time.monotonic()
    down_s = t_start - t_stop
    during = code
    rc = src.wait(seconds + 90)
    check(rc is not None, "the SIP source finished during the outage run", *dumps)
    outcome = src.outcome()
    ok = {i for i, c in outcome.items() if 200 <= c < 300}
    check(len(ok) == count, "messages need no store: all %d accepted during the outage (%d; "
          "codes %s)" % (count, len(ok), sorted(set(outcome.values()))), *dumps)
    wait_for(lambda: ok <= set(xs.ids), 30, what="the messages at the XMPP side")
    check(all(n == 1 for n in xs.ids.values()), "each arrived once")
    for n in gws.names:
        check(gws.procs[n].alive(), "%s survived the outage" % n, *dumps)
    # the store comes back: a subscription is accepted and written
    deadline = time.monotonic() + 20
    code = None
    while time.monotonic() < deadline:
        code, s = subscribe(g, "dave1", g.port())
        if code is not None and code < 300:
            break
        time.sleep(1)
    back_s = time.monotonic() - t_start
    print("RESULT pg_outage down_s=%.1f messages=%d accepted=%d subscribe_while_down=%s "
          "subscribe_accepted_after_restart_s=%.1f" % (down_s, count, len(ok), during, back_s),
          flush=True)
    check(code is not None and 200 <= code < 300,
          "a SUBSCRIBE after PostgreSQL returned is accepted (%s)" % code, *dumps)
    stored = {u: pg_query(pg, "SELECT count(*) FROM subscriptions WHERE sip = 'sip:%s@%s'"
                          % (u, HOSTED)) for u in ("dave0", "dave1")}
    check(stored == {"dave0": "0", "dave1": "1"},
          "the store holds the accepted subscription, not the refused one: %s" % stored)
    # the XMPP subscription again, until its gateway has reconnected (each
    # gateway waits up to 8 s between attempts): then accepted and stored
    row = "SELECT count(*) FROM subscriptions WHERE sip = 'sip:dave2@%s'" % HOSTED
    deadline = time.monotonic() + 20
    tries = 0
    while time.monotonic() < deadline and pg_query(pg, row) != "1":
        tries += 1
        sid = "pgsub2-%d" % tries
        peer.send("<presence from='alice@%s' to='dave2@%s' type='subscribe' id='%s'/>"
                  % (PARTNER, HOSTED, sid))
        t_try = time.monotonic()
        while time.monotonic() - t_try < 2 and pg_query(pg, row) != "1" and \
                not any("'%s'" % sid in p.replace('"', "'") for p in xs.presences):
            time.sleep(0.1)
        if pg_query(pg, row) != "1":
            time.sleep(1)
    check(pg_query(pg, row) == "1", "the XMPP subscription after the restart is stored (%d "
          "tries)" % tries, *dumps)
    peer.close()
    text = "".join(gws.log(n)[logs0[n]:] for n in gws.names)
    check(re.search(r'event=subscription-refused .*reason="store_unavailable" dir=s2x', text),
          "the gateway logged why it refused the SUBSCRIBE", text[-4000:])
    check(re.search(r"PostgreSQL connection lost|cannot connect to PostgreSQL", text),
          "a gateway logged the lost store connection", text[-4000:])
    check("store: PostgreSQL reconnected" in text or "reconnected backend=postgresql" in text,
          "a gateway logged its reconnection", text[-4000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--phases", default="failover,pg", help="failover, pg or both")
    a = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    t_start = time.monotonic()
    with PgServer(dbname="xfeddispatch") as pg, Lab() as lab:
        store = "postgresql:" + pg.conninfo
        g = GatewayLab(lab, gw_local=dict(state_db=store, queue_max=200000, error_wait_ms=500),
                       kam_globals="tcp_conn_wq_max=16777216\ntcp_wq_max=67108864")
        gws = Gateways(g, store)
        dumps = [lambda: gws.all_logs()] + g.dumps()[1:3]
        # one log line per gateway choice (kamailio.cfg WITH_DS_TRACE)
        with open(g.kam_cfg) as f:
            cfg = f.read()
        with open(g.kam_cfg, "w") as f:
            f.write(cfg.replace("\n", "\n#!define WITH_DS_TRACE\n", 1))
        start_kamailio(g)
        g.edge.start()
        for name in gws.names:
            gws.start(name)
        for name in gws.names:
            check(gws.wait_up(name), "%s connected to the edge" % name, *dumps)
        xs = XmppSink(g)  # fabrikam.example's s2s server (no Prosody)
        # warm-up: the edge's s2s stream, Kamailio's connections to the gateways
        src = Source(g, SENDERS * 2, 50)
        check(src.wait(60) == 0 and len(src.outcome()) == SENDERS * 2,
              "warm-up: %s" % src.result, *dumps)
        wait_for(lambda: len(xs.ids) >= SENDERS * 2, 20, what="the warm-up messages")
        print("# lab up in %.1f s" % (time.monotonic() - t_start), flush=True)
        if "failover" in a.phases:
            failover_phase(g, gws, xs, a.rate, a.seconds, dumps)
            print("# failover phase done at %.1f s" % (time.monotonic() - t_start), flush=True)
        if "pg" in a.phases:
            pg_outage_phase(g, gws, xs, pg, a.rate, a.seconds / 2, dumps)
        if xs.error:
            print("# xmpp sink: %s" % xs.error)
        for name in gws.names:
            check(gws.procs[name].alive(), "%s still runs" % name, *dumps)
        print("all checks passed in %.1f s" % (time.monotonic() - t_start), flush=True)
    return 0


if __name__ == "__main__":
    run_test(main)
