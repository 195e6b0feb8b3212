#!/usr/bin/python3
"""xfed-edge benchmarks (issue 3), in a harness lab (tests/harness):

  ingest    one authenticated TLS s2s stream (SASL EXTERNAL) carrying N
            <message/> stanzas into the edge, every one handed over IPC to
            `xfedctl tap` (which acknowledges it): stanzas/s over the wall
            time and the edge's CPU seconds (utime + stime from /proc);
  prosody   the same offered load into Prosody 0.12 as the receiver (a
            stream authenticated the same way; the stanzas are type='error'
            messages to an offline user, which Prosody routes and drops
            without a reply): its CPU seconds and stanzas per CPU second;
  idle      memory per idle authenticated TLS stream: 1,000 streams with SASL
            EXTERNAL, the edge's RSS before and after (2 s after the last
            stream, and again --settle s later, past the idle sweeps), divided.

    edge_bench.py [--quick] [--idle-only] [--stanzas N] [--streams N] [--settle S]
                  [--idle-release S] [--wrap CMD]

--idle-only measures only the idle streams. --wrap runs the edge under a
command prefix (e.g. --wrap "heaptrack -o /tmp/edge.ht" to see who owns the
bytes of the idle streams: `heaptrack_print --print-leaks 1`); RSS is then
read from the edge process itself, and the edge is killed (SIGKILL) after the
idle measure, so the profile ends with what the idle streams hold.

--quick is the ctest smoke pass (small numbers, no thresholds). The full run
prints the figures recorded in docs/benchmarks.md. Needs root (namespaces).
"""

import argparse
import os
import resource
import signal
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
SRC = os.environ.get("XFED_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests"))
sys.path.insert(0, os.path.join(SRC, "tests", "edge"))

from harness import Federation, Lab, RawPeer, xfed_bin  # noqa: E402
from harness.netns import wait_for  # noqa: E402
from edgelab import EdgeUnderTest, partner, tap_output  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def edge_pid(edge):
    """The xfed-edge process: edge.proc itself, or under --wrap its descendant."""
    pid = edge.proc.pid
    for _ in range(8):
        with open("/proc/%d/comm" % pid) as f:
            if f.read().strip() == "xfed-edge":
                return pid
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if not kids:
            break
        pid = int(kids[-1])
    raise RuntimeError("xfed-edge process not found under pid %d" % edge.proc.pid)


def sasl_stream(host, ip, to, from_, cert, cafile, timeout=20):
    p = RawPeer(host, ip, 5269, timeout=timeout)
    p.send_header(to=to, from_=from_)
    p.read_header()
    p.read_features()
    if not p.starttls(cert=cert, cafile=cafile):
        raise RuntimeError("STARTTLS refused")
    p.send_header(to=to, from_=from_)
    p.read_header()
    f = p.read_features()
    if f is None or "EXTERNAL" not in f:
        raise RuntimeError("EXTERNAL not offered: %r" % f)
    p.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
    if p.read_until(r"<success\b") is None:
        raise RuntimeError("SASL EXTERNAL failed")
    p.send_header(to=to, from_=from_)
    p.read_header()
    p.read_features()
    return p


def payload(n, from_dom, to_jid, mtype="chat"):
    one = ("<message from='carol@%s/bench' to='%s' type='%s' id='m%%d'><body>benchmark "
           "message number %%d</body></message>" % (from_dom, to_jid, mtype))
    return "".join(one % (i, i) for i in range(n)).encode()


def bench_ingest(fed, edge, n, perf_out=None):
    tap = edge.tap(count=n, timeout=600)
    time.sleep(1.0)
    p = sasl_stream(fed.partner, fed.edge.ip, HOSTED, PARTNER, fed.certs[PARTNER], fed.ca.cafile)
    data = payload(n, PARTNER, "bob@%s" % HOSTED)
    perf = None
    if perf_out:
        # perf runs in the root namespace; the edge's pid is the same there.
        perf = subprocess.Popen(["perf", "record", "-F", "2000", "-g", "-o", perf_out,
                                 "-p", str(edge.proc.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    cpu0 = cpu_seconds(edge.proc.pid)
    t0 = time.monotonic()
    p.sock.settimeout(600)
    p.sock.sendall(data)
    rc = tap.wait(600)
    t1 = time.monotonic()
    cpu1 = cpu_seconds(edge.proc.pid)
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
    got = tap_output(tap).count("\nstanza ") + tap_output(tap).startswith("stanza ")
    p.close()
    wall = t1 - t0
    cpu = cpu1 - cpu0
    print("ingest: %d stanzas (%d bytes) over one TLS stream into IPC: %.2f s wall, %.0f stanzas/s, "
          "edge CPU %.2f s, %.0f stanzas per CPU second (tap rc=%s, got %d)"
          % (n, len(data), wall, n / wall, cpu, n / cpu if cpu else 0, rc, got))
    return dict(wall=wall, cpu=cpu, rate=n / wall, per_cpu=n / cpu if cpu else 0, ok=rc == 0)


def bench_prosody(fed, n):
    pros = fed.partner_prosody
    p = sasl_stream(fed.edge, fed.partner.ip, PARTNER, HOSTED, fed.certs[HOSTED], fed.ca.cafile)
    pid = pros.proc.pid
    data = payload(n, HOSTED, "alice@%s" % PARTNER, mtype="error")
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    p.sock.settimeout(600)
    p.sock.sendall(data)
    # Prosody says nothing per stanza: wait until its CPU time stops growing.
    last = cpu_seconds(pid)
    t_last = time.monotonic()
    while True:
        time.sleep(0.5)
        c = cpu_seconds(pid)
        if c > last:
            last, t_last = c, time.monotonic()
        elif time.monotonic() - t_last > 2.0:
            break
        if time.monotonic() - t0 > 600:
            break
    cpu = last - cpu0
    wall = t_last - t0
    p.close()
    print("prosody: %d stanzas over one TLS stream: ~%.2f s wall, %.0f stanzas/s, CPU %.2f s, "
          "%.0f stanzas per CPU second" % (n, wall, n / wall if wall else 0, cpu, n / cpu if cpu else 0))
    return dict(wall=wall, cpu=cpu, per_cpu=n / cpu if cpu else 0)


def bench_idle(fed, edge, count, settle, kill=False):
    pid = edge_pid(edge)
    base = rss_kib(pid)
    streams = []
    for _ in range(count):
        streams.append(sasl_stream(fed.partner, fed.edge.ip, HOSTED, PARTNER, fed.certs[PARTNER],
                                   fed.ca.cafile))
    time.sleep(2.0)
    fresh = rss_kib(pid)
    # Idle: past the edge's idle_release sweeps (default 10 s; a stream gives
    # its stanza buffer back after one to two periods without input).
    time.sleep(settle)
    after = rss_kib(pid)
    live = edge.log_text().count("event=auth method=sasl-external outcome=success")
    per = (after - base) / count
    print("idle: %d authenticated TLS streams: edge RSS %d KiB -> %d KiB 2 s after the last one "
          "(%.1f KiB per stream), %d KiB %.0f s later: %.1f KiB per idle stream "
          "(%d SASL successes logged)"
          % (count, base, fresh, (fresh - base) / count, after, settle, per, live))
    if kill:
        # The edge, killed where it stands with its idle streams: the profile
        # ends with what they hold (and the lab only knows the wrapper's pid).
        os.kill(pid, signal.SIGKILL)
        edge.proc.wait(60)  # the wrapper ends when the edge does
    for p in streams:
        p.close()
    return dict(per_stream_kib=per)


def edge_start_wrapped(edge, prefix):
    """EdgeUnderTest.start() with the edge's command line behind prefix."""
    edge.log_path = edge.lab.path("xfed-edge%s.log" % edge.tag)
    edge.proc = edge.host.spawn(prefix + [xfed_bin("xfed-edge"), "-d", "-c", edge.dir],
                                name="xfed-edge", log_path=edge.log_path)
    edge.host.wait_port(edge.host.ip, edge.local["port"], proc=edge.proc, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--stanzas", type=int, default=500000)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--idle-only", action="store_true")
    ap.add_argument("--idle-release", type=int, default=None,
                    help="edge.conf idle_release for the run (default: the edge's, 10 s)")
    ap.add_argument("--settle", type=float, default=21.0,
                    help="seconds the idle streams stay idle before the measure")
    ap.add_argument("--wrap", default="", help="command prefix for xfed-edge (profilers)")
    ap.add_argument("--ingest-only", action="store_true",
                    help="only the ingest (no idle streams, no Prosody run)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="ingest runs one after the other (with --ingest-only)")
    ap.add_argument("--perf", default="",
                    help="perf record -g of the edge during the (last) ingest, into this file")
    a = ap.parse_args()
    if a.quick:
        a.stanzas, a.streams, a.settle = 5000, 20, 0.0
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required", rate="1000mb/s",
                         log_level="warn")
        settings = dict(max_connections=a.streams + 100, max_connections_per_partner=a.streams + 100)
        local = dict(max_pending_accept=a.streams + 100)
        if a.idle_release is not None:
            local["idle_release"] = a.idle_release
        edge = EdgeUnderTest(fed, [partner(PARTNER)], settings=settings,
                             local=local)
        if a.wrap:
            edge_start_wrapped(edge, a.wrap.split())
        else:
            edge.start()
        if a.ingest_only:
            runs = [bench_ingest(fed, edge, a.stanzas,
                                 a.perf if a.perf and i == a.repeat - 1 else None)
                    for i in range(max(1, a.repeat))]
            ok = all(r["ok"] for r in runs) and edge.alive()
            print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
            return 0 if ok else 1
        # Idle streams first, on a fresh edge: measured after the ingest, the
        # streams reuse heap the ingest freed and look ~35% cheaper than they are.
        idle = bench_idle(fed, edge, a.streams, a.settle, kill=bool(a.wrap))
        if a.wrap:
            print("%d passed, %d failed" % (1, 0))
            return 0
        if a.idle_only:
            ok = edge.alive() and idle["per_stream_kib"] > 0
            print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
            return 0 if ok else 1
        ing = bench_ingest(fed, edge, a.stanzas)
        fed.partner_prosody.start()
        pro = bench_prosody(fed, a.stanzas)
        print("ratio: edge %.0f vs prosody %.0f stanzas per CPU second = %.1fx"
              % (ing["per_cpu"], pro["per_cpu"], ing["per_cpu"] / pro["per_cpu"] if pro["per_cpu"] else 0))
        ok = ing["ok"] and edge.alive()
        print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
