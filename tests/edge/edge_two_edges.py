#!/usr/bin/python3
"""Two xfed-edge processes for one hosted domain (issue 6 item 5), against a
real Prosody 0.12 partner, dialback over TLS.

    edge_two_edges.py      (run as root; ctest passes XFED_BIN, XFED_SRC)

edge1 (namespace "edge") and edge2 (namespace "edge2") serve
contoso.example with the same xfed.conf (one dialback secret) and the same
certificate; each has `xfedctl tap` connected as its gateway.
1. While _xmpp-server._tcp.contoso.example names edge1 only, edge2 sends a
   message to alice@fabrikam.example: Prosody verifies edge2's dialback key
   with the authoritative server it finds, edge1, which answers valid with
   the shared secret; alice receives it. edge1 sends one too (outbound from
   any edge).
2. The SRV record names both edges with equal priority and weight. Alice's
   messages reach the hosted domain through an edge (its tap).
3. That edge stops (SIGTERM). Alice's next messages reach the other edge's
   tap once Prosody has reconnected (it tries the other SRV target).
Every wait is bounded.
"""

import os
import re
import secrets
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab, wait_for  # noqa: E402
from edgelab import EdgeUnderTest, check, partner, tap_output  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
EDGE1 = "edge1." + HOSTED
EDGE2 = "edge2." + HOSTED


def set_srv(fed, targets):
    fed.dns.clear_srv(HOSTED)
    for t in targets:
        fed.dns.srv("xmpp-server", HOSTED, t, 5269, priority=10, weight=50)
    fed.dns.apply()


def out_message(edge, body):
    xml = ("<message xmlns='jabber:server' from='bob@%s' to='alice@%s/test' type='chat'>"
           "<body>%s</body></message>" % (HOSTED, PARTNER, body))
    return edge.inject(HOSTED, PARTNER, xml)


def tap_has(tap, body):
    return (body + "<") in tap_output(tap)


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required")
        host2 = lab.add_host("edge2")
        fed.dns.a(EDGE1, fed.edge.ip).a(EDGE2, host2.ip)
        set_srv(fed, [EDGE1])
        pol = partner(PARTNER, tls="Required", sasl="NotSupported", dialback=True)
        shared = dict(dialback_secret=secrets.token_hex(32))
        e1 = EdgeUnderTest(fed, [pol], settings=shared).start()
        e2 = EdgeUnderTest(fed, [pol], settings=shared, host=host2, tag="2",
                           local=dict(name="edge-test-2")).start()
        check(open(os.path.join(e1.dir, "xfed.conf")).read() ==
              open(os.path.join(e2.dir, "xfed.conf")).read(),
              "both edges run the same xfed.conf (one dialback secret)")
        fed.partner_prosody.start()
        taps = {1: e1.tap(timeout=200), 2: e2.tap(timeout=200)}
        time.sleep(1.0)  # the taps' IPC sessions
        with fed.partner_client() as alice:
            # 1. Outbound from edge2, its key verified by edge1.
            rc, out = out_message(e2, "from edge2")
            check(rc == 0 and alice.wait_message(timeout=40, body="from edge2") is not None,
                  "alice receives a message sent out by edge2", out, e2.log_text()[-4000:],
                  e1.log_text()[-4000:], fed.partner_prosody.log_text()[-4000:])
            check(e2.wait_log(r"dir=out .*event=auth method=dialback outcome=valid") is not None,
                  "edge2's outbound stream was authenticated by dialback")
            check(e1.wait_log(r"event=dialback role=authoritative .*outcome=valid") is not None,
                  "edge1 (the SRV target) verified edge2's key with the shared secret",
                  e1.log_text()[-4000:])
            check(re.search(r"role=authoritative", e2.log_text()) is None,
                  "edge2 itself was not asked")
            rc, out = out_message(e1, "from edge1")
            check(rc == 0 and alice.wait_message(timeout=40, body="from edge1") is not None,
                  "alice receives a message sent out by edge1", out, e1.log_text()[-4000:])

            # 2. Both edges behind equal SRV records.
            set_srv(fed, [EDGE1, EDGE2])
            alice.send("bob@%s" % HOSTED, "to either edge")
            first = wait_for(lambda: next((i for i, t in taps.items() if tap_has(t, "to either edge")),
                                          None), 40, what="alice's message at a tap")
            first_edge, other_edge = (e1, e2) if first == 1 else (e2, e1)
            other = 2 if first == 1 else 1
            print("figures: alice's stream reached edge%d" % first)
            check(not tap_has(taps[other], "to either edge"), "it arrived once, at edge%d" % first)

            # 3. Stop that edge: traffic flows through the other after Prosody reconnects.
            t0 = time.monotonic()
            first_edge.proc.signal(15)
            check(first_edge.proc.wait(15) == 0, "edge%d stops on SIGTERM" % first)
            n = 0
            deadline = time.monotonic() + 60
            # Prosody notices the closed stream and reconnects on the next
            # stanza, trying the other SRV target; one message a second
            # until one arrives (bounded).
            while time.monotonic() < deadline:
                n += 1
                alice.send("bob@%s" % HOSTED, "after stop %d" % n)
                try:
                    wait_for(lambda: tap_has(taps[other], "after stop %d" % n), 1.0, interval=0.1,
                             what="a message at the other edge")
                    break
                except Exception:
                    continue
            got = [i for i in range(1, n + 1) if tap_has(taps[other], "after stop %d" % i)]
            print("figures: first message through edge%d %.1f s after edge%d stopped (%d sent, %d "
                  "arrived)" % (other, time.monotonic() - t0, first, n, len(got)))
            check(got, "alice's messages reach the hosted domain through edge%d" % other,
                  other_edge.log_text()[-4000:], fed.partner_prosody.log_text()[-4000:])
            alice.send("bob@%s" % HOSTED, "steady")
            wait_for(lambda: tap_has(taps[other], "steady"), 30, what="the next message at edge%d" % other)
            print("ok: traffic keeps flowing through edge%d" % other)
        check(other_edge.alive(), "edge%d is still running" % other)
        for t in taps.values():
            t.stop()
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
