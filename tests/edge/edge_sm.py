#!/usr/bin/python3
"""XEP-0198 stream management on s2s between xfed-edge and a real Prosody 0.12
(mod_smacks with smacks_enabled_s2s and smacks_s2s_resend), SASL EXTERNAL
both ways (Prosody offers <sm/> to authenticated streams only).

    edge_sm.py      (run as root; ctest passes XFED_BIN, XFED_SRC)

1. Outbound: a gateway's burst of N messages (tests/edge/edge_ipc_client
   burst) to alice@fabrikam.example; while it runs, the edge's outbound TCP
   connection is killed (`ss -K` on Prosody's side) after Prosody was
   stopped (SIGSTOP) for a second, which throws away what the edge wrote
   meanwhile. Every gateway
   message is acknowledged ok, alice's real client (slixmpp) receives every
   body (none lost), the edge re-sent the unacknowledged ones on a new
   stream (log and xfed_edge_sm_resent_total), and any duplicate is one of
   those re-sent (XEP-0198 without resumption is at-least-once).
2. Inbound: alice sends N messages to bob@contoso.example; while they flow,
   the edge is stopped (SIGSTOP) for a second and its end of Prosody's
   connection killed, which throws away what Prosody sent meanwhile. `xfedctl tap` receives every
   body; the edge answered Prosody's <r/> with its handled count.
3. Protocol details with a raw peer (SASL EXTERNAL): <enable/> before
   authentication gets <failed/>, <sm/> is offered after it, <enable/> gets
   <enabled/>, <r/> after one stanza gets <a h='1'/>, a second <enable/>
   gets <failed/>, and an <a/> acknowledging more than the edge sent closes
   the stream with <undefined-condition/>.
Prints the figures (messages, re-sent, duplicates).
"""

import os
import re
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab, RawPeer, wait_for, xfed_bin  # noqa: E402
from edgelab import IPC_ENDPOINT, EdgeUnderTest, check, partner, tap_output  # noqa: E402
from edge_metrics import scrape, value  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
N_OUT = 400
N_IN = 300
METRICS_PORT = 9198

SMACKS = """
smacks_enabled_s2s = true
smacks_s2s_resend = true
"""
# Loaded for the VirtualHost in addition to the global modules.
SMACKS_HOST = '    modules_enabled = { "smacks" }'



def kill_s2s(host, match):
    """Kills the established TCP connections of host's namespace that match
    (an ss filter); returns how many."""
    r = host.run(["ss", "-K", "-t", "-n", "state", "established"] + match, check=False)
    return max(0, len([ln for ln in r.stdout.splitlines() if ln.strip()]) - 1)


def bodies(events, prefix):
    return [e["body"] for e in events if e["event"] == "message" and e["body"].startswith(prefix)]


def outbound(fed, edge, alice):
    lines = ["<message xmlns='jabber:server' from='bob@%s' to='alice@%s/test' type='chat' "
             "id='sm-out-%d'><body>sm-out-%d</body></message>" % (HOSTED, PARTNER, i, i)
             for i in range(N_OUT)]
    path = edge.lab.path("burst.xml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    keybase = os.path.join(edge.dir, "keys", "gateway", "tap")
    pub = os.path.join(edge.dir, "keys", "edge.pub")
    burst = edge.host.spawn([xfed_bin("edge_ipc_client"), IPC_ENDPOINT, keybase, pub, "burst",
                             HOSTED, PARTNER, path, "5"], name="burst",
                            log_path=edge.lab.path("burst.log"))
    # Mid-burst: once alice has a quarter of the messages, cut the edge's
    # outbound connection (destination port 5269 of the partner).
    wait_for(lambda: len(bodies(alice.events, "sm-out-")) >= N_OUT // 4, 60,
             what="a quarter of the burst at alice")
    # Prosody stops reading for a second (SIGSTOP), so that what the edge
    # writes meanwhile waits in Prosody's socket buffer; then Prosody's end
    # of the connection is killed, which throws that away: without XEP-0198
    # those stanzas would be lost.
    fed.partner_prosody.proc.signal(signal.SIGSTOP)
    try:
        time.sleep(1.0)
        killed = kill_s2s(fed.partner, ["src", fed.partner.ip, "sport", "=", ":5269",
                                        "dst", edge.host.ip])
    finally:
        fed.partner_prosody.proc.signal(signal.SIGCONT)
    at_kill = len(bodies(alice.events, "sm-out-"))
    check(killed >= 1, "the edge's outbound s2s connection was killed mid-burst (after %d of %d)"
          % (at_kill, N_OUT))
    rc = burst.wait(120)
    out = tap_output(burst)
    check(rc == 0 and "burst sent=%d ok=%d error=0" % (N_OUT, N_OUT) in out,
          "every gateway message was acknowledged ok", out, edge.log_text()[-8000:])
    wait_for(lambda: len(set(bodies(alice.events, "sm-out-"))) >= N_OUT, 60,
             what="every message at alice")
    got = bodies(alice.events, "sm-out-")
    missing = N_OUT - len(set(got))
    dups = len(got) - len(set(got))
    m = [int(x) for x in re.findall(r"event=sm action=resend count=(\d+)", edge.log_text())]
    resent = sum(m)
    metric = value(scrape(edge.host, METRICS_PORT)[0], "xfed_edge_sm_resent_total")
    metric = -1 if metric is None else int(metric)
    print("figures: outbound messages=%d received=%d distinct=%d missing=%d duplicates=%d "
          "resent=%d (metric %d) killed_after=%d" % (N_OUT, len(got), len(set(got)), missing, dups,
                                                     resent, metric, at_kill))
    check(missing == 0, "alice received every message (none lost)")
    check(resent >= 1 and metric == resent,
          "the edge re-sent the unacknowledged stanzas on a new stream (log and metric agree)")
    check(dups <= resent, "duplicates (%d) only among the re-sent stanzas (%d)" % (dups, resent))
    check(edge.wait_log(r"dir=out .*event=sm action=enable") is not None,
          "the edge enabled XEP-0198 on its outbound stream")
    check(re.search(r"Enabling stream management", fed.partner_prosody.log_text()) is not None,
          "Prosody's mod_smacks enabled it", fed.partner_prosody.log_text()[-3000:])


def inbound(fed, edge, alice):
    tap = edge.tap(timeout=150)
    # Warm up Prosody's stream to the edge: stanzas Prosody queued before
    # its stream was authenticated go out before it enables XEP-0198 and
    # are not protected by it (mod_smacks counts from <enable/>).
    time.sleep(1.0)  # the tap's IPC session
    alice.send("bob@%s" % HOSTED, "warm-in")
    wait_for(lambda: "warm-in<" in tap_output(tap), 40, what="warm-up message at the tap")
    check(edge.wait_log(r"dir=in .*event=sm action=enabled", timeout=20) is not None,
          "the edge enabled XEP-0198 when Prosody asked")
    done = threading.Event()

    def sender():
        for i in range(N_IN):
            alice.send("bob@%s" % HOSTED, "sm-in-%d" % i)
            time.sleep(0.005)
        done.set()

    t = threading.Thread(target=sender, daemon=True)
    t.start()

    def tap_bodies():
        return re.findall(r"sm-in-(\d+)<", tap_output(tap))

    wait_for(lambda: len(tap_bodies()) >= N_IN // 4, 60, what="a quarter of alice's messages at the tap")
    # The edge stops reading for a second (SIGSTOP) while Prosody sends, then
    # its end of Prosody's connection (local port 5269) is killed, throwing
    # away what waited in its socket buffer: Prosody must send that again.
    edge.proc.signal(signal.SIGSTOP)
    try:
        time.sleep(1.0)
        killed = kill_s2s(edge.host, ["src", edge.host.ip, "sport", "=", ":5269"])
    finally:
        edge.proc.signal(signal.SIGCONT)
    at_kill = len(tap_bodies())
    check(killed >= 1, "Prosody's s2s connection to the edge was killed mid-burst (after %d of %d)"
          % (at_kill, N_IN))
    t.join(60)
    check(done.is_set(), "alice sent every message")
    wait_for(lambda: len(set(tap_bodies())) >= N_IN, 90, what="every message at the tap")
    got = tap_bodies()
    tap.stop()
    dups = len(got) - len(set(got))
    print("figures: inbound messages=%d received=%d distinct=%d duplicates=%d killed_after=%d"
          % (N_IN, len(got), len(set(got)), dups, at_kill))
    check(len(set(got)) == N_IN, "the tap received every message of alice (none lost)")
    m = re.findall(r"Destroying session with (\d+) unacked", fed.partner_prosody.log_text())
    print("figures: Prosody held %s unacknowledged stanzas when its stream to the edge broke "
          "(re-sent: smacks_s2s_resend)" % (m[-1] if m else "no"))
    check(m and int(m[-1]) > 0, "the break left stanzas the edge had not acknowledged, which "
          "Prosody sent again")


def raw_peer_details(fed, edge):
    sm = "urn:xmpp:sm:3"
    p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
    try:
        p.send_header(to=HOSTED, from_=PARTNER)
        p.read_header()
        p.read_features()
        check(p.starttls(cert=fed.certs[PARTNER], cafile=fed.ca.cafile), "raw peer: STARTTLS")
        p.send_header(to=HOSTED, from_=PARTNER)
        p.read_header()
        f = p.read_features()
        p.send("<enable xmlns='%s'/>" % sm)
        m = p.read_until(r"<failed\b.*?</failed>|<failed[^>]*/>")
        check(m is not None and b"unexpected-request" in m.group(0),
              "<enable/> before authentication gets <failed><unexpected-request/>", p.received[-800:])
        p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
        check(p.read_until(r"<success\b") is not None, "raw peer: SASL EXTERNAL")
        p.send_header(to=HOSTED, from_=PARTNER)
        p.read_header()
        f = p.read_features()
        check(f is not None and sm in f, "<sm xmlns='urn:xmpp:sm:3'/> offered after authentication", f)
        p.send("<enable xmlns='%s'/>" % sm)
        check(p.read_until(r"<enabled\b") is not None, "<enable/> gets <enabled/>", p.received[-800:])
        p.send("<message xmlns='jabber:server' from='carol@%s' to='bob@%s' type='chat'><body>raw</body>"
               "</message><r xmlns='%s'/>" % (PARTNER, HOSTED, sm))
        m = p.read_until(r"<a [^>]*h=['\"](\d+)['\"]")
        check(m is not None and m.group(1) == b"1", "<r/> after one stanza gets <a h='1'/>",
              p.received[-800:])
        p.send("<enable xmlns='%s'/>" % sm)
        m = p.read_until(r"<failed\b.*?</failed>|<failed[^>]*/>")
        check(m is not None and b"unexpected-request" in m.group(0),
              "a second <enable/> gets <failed/>", p.received[-800:])
        p.send("<a xmlns='%s' h='1'/>" % sm)
        err = p.read_stream_error()
        check(err is not None and err.condition == "undefined-condition" and
              "handled-count-too-high" in (err.text or ""),
              "an <a/> acknowledging more than was sent: <undefined-condition/> "
              "(handled-count-too-high)", repr(err), p.received[-800:])
    finally:
        p.close()


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required", extra_global=SMACKS,
                         extra_host=SMACKS_HOST)
        edge = EdgeUnderTest(fed, [partner(PARTNER)],
                             local=dict(metrics_listen="127.0.0.1:%d" % METRICS_PORT,
                                        sm_ack_interval_ms=100)).start()
        fed.partner_prosody.start()
        with fed.partner_client() as alice:
            # Warm up both streams so the bursts start on established ones.
            xml = ("<message xmlns='jabber:server' from='bob@%s' to='alice@%s/test' type='chat'>"
                   "<body>warm-up</body></message>" % (HOSTED, PARTNER))
            rc, out = edge.inject(HOSTED, PARTNER, xml)
            check(rc == 0 and alice.wait_message(timeout=30, body="warm-up") is not None,
                  "warm-up message reaches alice", out, edge.log_text())
            outbound(fed, edge, alice)
            inbound(fed, edge, alice)
        raw_peer_details(fed, edge)
        check(edge.alive(), "the edge is still running")
        edge.proc.signal(15)
        check(edge.proc.wait(10) == 0, "SIGTERM stops the edge with exit code 0", edge.log_text()[-3000:])
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
