#!/usr/bin/python3
"""Scrapes metrics_serve over loopback and reads the answer with the
Prometheus project's own Python parser (Debian's python3-prometheus-client,
prometheus_client.parser.text_string_to_metric_families): every family of
docs/metrics.md is there with its type, awkward label values come back
exactly, folding into "other" is counted, the process metrics are sane,
and other methods and paths are refused.

Usage: test_metrics_scrape.py PATH/TO/metrics_serve   (XFED_SRC: the source tree)
"""
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

SRC = os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def documented():
    """(name, type) of every row of the metric tables in docs/metrics.md."""
    rows = []
    with open(os.path.join(SRC, "docs", "metrics.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\| `([a-z_]+)` \| (counter|gauge) \|", line)
            if m:
                rows.append((m.group(1), m.group(2)))
    return rows


def start(binary):
    proc = subprocess.Popen([binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline().decode() if ready else ""
    m = re.match(r"port (\d+)$", line.strip())
    if not m:
        proc.kill()
        proc.wait(10)
        fail("metrics_serve did not start: %r %r" % (line, proc.stderr.read()))
    return proc, int(m.group(1))


def request(port, method, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def main():
    proc, port = start(sys.argv[1])
    try:
        check(port)
    finally:
        # Only the process this test started, by its pid.
        os.kill(proc.pid, signal.SIGTERM)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            fail("metrics_serve did not stop on SIGTERM")
    if rc != 0:
        fail("metrics_serve exited with %d" % rc)
    print("ok")


def check(port):
    status, headers, body = request(port, "GET", "/metrics")
    if status != 200:
        fail("GET /metrics: %d" % status)
    ctype = headers.get("Content-Type", "")
    if not ctype.startswith("text/plain; version=0.0.4"):
        fail("Content-Type %r" % ctype)

    families = {}
    samples = {}
    for fam in text_string_to_metric_families(body):
        families[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def value(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in samples:
            fail("no sample %s %r" % (name, labels))
        return samples[key]

    # Every documented family, with its type. The parser names a counter
    # family without its "_total".
    rows = documented()
    if len(rows) < 20:
        fail("only %d rows in docs/metrics.md" % len(rows))
    for name, typ in rows:
        fam = name[:-len("_total")] if typ == "counter" else name
        if families.get(fam) != typ:
            fail("%s: parsed type %r, documented %s" % (name, families.get(fam), typ))
    if len(families) != len(rows):
        fail("%d families exported, %d documented" % (len(families), len(rows)))

    if value("xfed_edge_stanzas_total", partner="fabrikam.example", direction="in") != 18234:
        fail("stanzas in")
    if value("xfed_edge_stanzas_total", partner='q"b\\n\nl\u00e9', direction="out") != 2:
        fail("escaped label value did not come back")
    if value("xfed_edge_handshake_failures_total", reason="bad\ufffd") != 1:
        fail("invalid UTF-8 not replaced")
    for i in range(4):
        if value("xfed_edge_streams", partner="p%d" % i, direction="in") != i:
            fail("streams p%d" % i)
    if value("xfed_edge_streams", partner="other", direction="other") != 5:
        fail("overflow series")
    if value("xfed_metrics_label_overflow_total", family="xfed_edge_streams") != 2:
        fail("overflow count")
    if value("xfed_ipc_queue_depth", peer="gw1") != -1:
        fail("negative gauge")
    if value("xfed_edge_config_version") != 42:
        fail("config version")
    if value("xfed_ipc_resends_total") != 0:
        fail("a counter without labels reads 0 before its first update")
    if value("xfed_build_info", program="xfed-edge", version=value_version(body)) != 1:
        fail("build info")

    now = time.time()
    start_time = value("process_start_time_seconds")
    if not now - 600 < start_time <= now + 1:
        fail("process_start_time_seconds %r, now %r" % (start_time, now))
    if value("process_resident_memory_bytes") < 100000:
        fail("resident memory")
    if not 3 <= value("process_open_fds") <= value("process_max_fds"):
        fail("open fds")
    if value("process_cpu_seconds_total") < 0:
        fail("cpu seconds")

    status, headers, _ = request(port, "POST", "/metrics")
    if status != 405 or headers.get("Allow") != "GET":
        fail("POST /metrics: %d %r" % (status, headers.get("Allow")))
    status, _, _ = request(port, "GET", "/other")
    if status != 404:
        fail("GET /other: %d" % status)
    print("%d families, %d samples parsed" % (len(families), len(samples)))


def value_version(body):
    m = re.search(r'xfed_build_info\{program="xfed-edge",version="([^"]+)"\} 1', body)
    if not m:
        fail("no xfed_build_info line")
    return m.group(1)


if __name__ == "__main__":
    main()
