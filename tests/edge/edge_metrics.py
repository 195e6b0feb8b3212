#!/usr/bin/python3
"""xfed-edge's GET /metrics and its systemd notifications.

  1. `xfed-edge -n` accepts metrics_listen = "127.0.0.1:PORT" and refuses a
     wildcard address;
  2. started with NOTIFY_SOCKET (a datagram socket this test binds) and
     WATCHDOG_USEC=400000: READY=1 arrives when the s2s port and the metrics
     port are already open, WATCHDOG=1 pings follow about every 200 ms;
  3. a scrape parses with prometheus_client's parser: xfed_build_info,
     xfed_edge_config_version, every handshake failure reason at 0;
  4. a raw peer claiming a non-partner 'from' gets <policy-violation/> with
     its <text/> (never an empty one); the scrape then shows
     xfed_edge_stream_errors_total{condition="policy-violation",direction="out"}
     and xfed_edge_handshake_failures_total{reason="policy"}; a stream that
     is still negotiating shows in xfed_edge_pending_streams{direction="in"};
  5. a partner (raw peer, SASL EXTERNAL) sends a message while no gateway is
     connected: xfed_edge_streams and xfed_edge_stanzas_total count it, and
     the edge's service-unavailable reply shows in
     xfed_edge_stanzas_bounced_total; a gateway (xfedctl tap) connects:
     xfed_ipc_peer_up reads 1 and xfed_ipc_messages_total moves;
  6. SIGHUP sends RELOADING=1 then READY=1 and the new version is scraped;
     SIGTERM sends STOPPING=1.
"""

import os
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from harness import Federation, Lab, RawPeer, xfed_bin  # noqa: E402
from edgelab import EdgeUnderTest, check, partner  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
STRANGER = "stranger.example"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


class Notify:
    """The AF_UNIX datagram socket systemd would listen on."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.log = []

    def next(self, timeout):
        """The next datagram as a dict of KEY=VALUE lines, or None."""
        self.sock.settimeout(max(timeout, 0.01))
        try:
            data = self.sock.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            return None
        msg = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
        self.log.append(msg)
        return msg

    def wait(self, key, timeout=15, skip=("WATCHDOG",)):
        """Waits for a datagram with key; datagrams of other keys in skip are
        passed over, any other one is returned as well (to catch ordering)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.next(deadline - time.monotonic())
            if msg is None:
                return None
            if key in msg or not any(k in msg for k in skip):
                return msg
        return None

    def close(self):
        self.sock.close()


def scrape(host, port):
    s = host.connect("127.0.0.1", port, timeout=5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    head = head.decode("latin-1")
    check(head.startswith("HTTP/1.1 200"), "GET /metrics answers 200", head)
    check("text/plain; version=0.0.4" in head, "in the Prometheus text format 0.0.4", head)
    text = body.decode("utf-8")
    samples = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            samples[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return samples, text


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def wait_value(host, port, pred, what, timeout=20):
    deadline = time.monotonic() + timeout
    samples, text = scrape(host, port)
    while not pred(samples) and time.monotonic() < deadline:
        time.sleep(0.3)
        samples, text = scrape(host, port)
    check(pred(samples), what, text)
    return samples


def partner_peer(fed):
    cert = fed.certs[PARTNER]
    p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
    p.send_header(to=HOSTED, from_=PARTNER)
    p.read_header()
    p.read_features()
    check(p.starttls(cert=cert, cafile=fed.ca.cafile), "partner: STARTTLS")
    p.send_header(to=HOSTED, from_=PARTNER)
    p.read_header()
    f = p.read_features()
    check(f is not None and "EXTERNAL" in f, "partner: EXTERNAL offered", f)
    p.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
    check(p.read_until(r"<success\b") is not None, "partner: authenticated")
    p.send_header(to=HOSTED, from_=PARTNER)
    p.read_header()
    p.read_features()
    return p


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required")
        probe = fed.edge.socket()
        probe.bind(("127.0.0.1", 0))
        mport = probe.getsockname()[1]
        probe.close()
        listen = "127.0.0.1:%d" % mport
        edge = EdgeUnderTest(fed, [partner(PARTNER)], local=dict(metrics_listen=listen), version=7)

        # 1. the configuration check
        r = edge.host.run([xfed_bin("xfed-edge"), "-n", "-c", edge.dir], check=False)
        check(r.returncode == 0, "-n accepts metrics_listen = %s" % listen, r.stdout + r.stderr)
        edge.local["metrics_listen"] = "0.0.0.0:%d" % mport
        edge.write_local()
        r = edge.host.run([xfed_bin("xfed-edge"), "-n", "-c", edge.dir], check=False)
        check(r.returncode == 1 and "metrics_listen" in r.stderr,
              "-n refuses a wildcard metrics_listen", r.stdout + r.stderr)
        edge.local["metrics_listen"] = listen
        edge.write_local()

        # 2. READY=1 after the ports are open, then watchdog pings
        notify = Notify(lab.path("notify.sock"))
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000")
        env.pop("WATCHDOG_PID", None)
        edge.log_path = lab.path("xfed-edge.log")
        edge.proc = fed.edge.spawn([xfed_bin("xfed-edge"), "-d", "-c", edge.dir], name="xfed-edge",
                                   log_path=edge.log_path, env=env)
        ready = notify.wait("READY", timeout=20)
        s2s_open = fed.edge.port_open(fed.edge.ip, 5269)
        metrics_open = fed.edge.port_open("127.0.0.1", mport)
        check(ready is not None and ready.get("READY") == "1", "READY=1 arrives", repr(ready),
              edge.log_text())
        check(s2s_open and metrics_open, "the s2s and metrics ports are open when READY=1 arrives")
        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < 1.5:
            msg = notify.next(1.5 - (time.monotonic() - t0))
            if msg and msg.get("WATCHDOG") == "1":
                pings += 1
        check(pings >= 4, "WATCHDOG=1 pings follow at half of WATCHDOG_USEC (%d in 1.5 s)" % pings,
              repr(notify.log))

        # 3. a first scrape
        samples, text = scrape(fed.edge, mport)
        check(value(samples, "xfed_build_info", program="xfed-edge",
                    version=next((dict(k[1])["version"] for k in samples if k[0] == "xfed_build_info"), "")) == 1,
              "xfed_build_info names xfed-edge", text)
        check(value(samples, "xfed_edge_config_version") == 7, "xfed_edge_config_version is 7", text)
        for reason in ("dns", "tls", "certificate", "sasl", "dialback", "policy", "timeout",
                       "stream_error"):
            check(value(samples, "xfed_edge_handshake_failures_total", reason=reason) == 0,
                  "handshake failures %s start at 0" % reason, text)
        # The port probe above connected and closed without a byte.
        check(value(samples, "xfed_edge_handshake_failures_total", reason="connect") == 1,
              "the port probe counts as a connection closed before the handshake", text)
        accepted = value(samples, "xfed_edge_connections_total", result="accepted")
        check(accepted == 1, "one connection accepted so far (the probe)", text)

        # 4. a refused stream and a pending one
        with RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15) as p:
            p.send_header(to=HOSTED, from_=STRANGER)
            err = p.read_stream_error(timeout=10)
            check(err is not None and err.condition == "policy-violation",
                  "a non-partner 'from' gets <policy-violation/>", repr(err))
            check(err.text == "'from' is not a partner domain" and "></text>" not in err.raw,
                  "the stream error carries its text, never an empty <text/>", err.raw)
            p.wait_closed(timeout=10)
        pending = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
        pending.send_header(to=HOSTED, from_=PARTNER)
        pending.read_header()
        pending.read_features()
        samples = wait_value(
            fed.edge, mport,
            lambda s: value(s, "xfed_edge_handshake_failures_total", reason="policy") == 1,
            "the refused stream counts as a handshake failure, reason policy")
        check(value(samples, "xfed_edge_stream_errors_total", condition="policy-violation",
                    direction="out") == 1, "the stream error sent is counted", repr(samples))
        check(value(samples, "xfed_edge_pending_streams", direction="in") == 1,
              "the negotiating stream is pending", repr(samples))
        check(value(samples, "xfed_edge_connections_total", result="accepted") == accepted + 2,
              "two more connections accepted", repr(samples))
        pending.close()

        # 5. a partner's stanza without a gateway, then a gateway
        peer = partner_peer(fed)
        peer.send("<message from='alice@%s' to='bob@%s' id='m1'><body>hi</body></message>"
                  % (PARTNER, HOSTED))
        samples = wait_value(
            fed.edge, mport,
            lambda s: value(s, "xfed_edge_stanzas_bounced_total", condition="service-unavailable") == 1,
            "no gateway: the reply service-unavailable is counted as a bounce")
        check(value(samples, "xfed_edge_stanzas_total", partner=PARTNER, direction="in") == 1,
              "the partner's stanza is counted in", repr(samples))
        check(value(samples, "xfed_edge_streams", partner=PARTNER, direction="in") == 1,
              "the partner's authenticated stream is counted", repr(samples))
        check(value(samples, "xfed_edge_pending_streams", direction="in") == 0,
              "nothing pending inbound any more", repr(samples))
        tap = edge.tap(timeout=60)
        samples = wait_value(
            fed.edge, mport,
            lambda s: any(k[0] == "xfed_ipc_peer_up" and v == 1 for k, v in s.items()),
            "a connected gateway reads xfed_ipc_peer_up 1")
        check(value(samples, "xfed_ipc_messages_total", direction="in") > 0 and
              value(samples, "xfed_ipc_messages_total", direction="out") > 0,
              "IPC messages are counted both ways", repr(samples))
        peer.close()
        tap.stop()

        # 6. reload and stop
        edge.version = 8
        edge.write_conf()
        edge.proc.signal(signal.SIGHUP)
        msg = notify.wait("RELOADING", timeout=15)
        check(msg is not None and msg.get("RELOADING") == "1" and "MONOTONIC_USEC" in msg,
              "SIGHUP: RELOADING=1 with MONOTONIC_USEC", repr(notify.log[-5:]))
        msg = notify.wait("READY", timeout=15)
        check(msg is not None and msg.get("READY") == "1", "then READY=1", repr(notify.log[-5:]))
        samples, text = scrape(fed.edge, mport)
        check(value(samples, "xfed_edge_config_version") == 8, "the reloaded version is scraped", text)
        edge.proc.signal(signal.SIGTERM)
        msg = notify.wait("STOPPING", timeout=15)
        check(msg is not None and msg.get("STOPPING") == "1", "SIGTERM: STOPPING=1",
              repr(notify.log[-5:]))
        check(edge.proc.wait(15) == 0, "the edge stops cleanly", edge.log_text()[-3000:])
        notify.close()


if __name__ == "__main__":
    main()
