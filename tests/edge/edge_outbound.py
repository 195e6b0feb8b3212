#!/usr/bin/python3
"""Outbound streams of xfed-edge: reuse, queueing and the bounce conditions.

  - two stanzas injected back to back for fabrikam.example (a real Prosody)
    wait in the queue of ONE new outbound stream and both reach alice;
    a third one later reuses the same stream;
  - a partner without any DNS record: remote-server-not-found;
  - a partner whose _xmpp-server SRV target is "." (service decidedly not
    available, RFC 2782): remote-server-not-found, no A/AAAA fallback;
  - a partner whose static route points at an address nobody answers on:
    remote-server-timeout after connect_timeout;
  - the global connection limit reached: resource-constraint.
"""

import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab  # noqa: E402
from edgelab import EdgeUnderTest, check, partner  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
NODNS = "nodns.example"
DOT = "dot.example"
BLACKHOLE = "blackhole.example"


def msg(to, body):
    return ("<message xmlns='jabber:server' from='bob@%s' to='%s' type='chat'><body>%s</body></message>"
            % (HOSTED, to, body))


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required")
        fed.dns.srv("xmpp-server", DOT, ".", 0).a(DOT, fed.partner.ip).apply()
        partners = [partner(PARTNER), partner(NODNS), partner(DOT),
                    partner(BLACKHOLE, proxy="10.254.0.99:5269")]
        edge = EdgeUnderTest(fed, partners, local=dict(connect_timeout=2)).start()
        fed.partner_prosody.start()
        with fed.partner_client() as alice:
            results = {}

            def inject(key, body):
                results[key] = edge.inject(HOSTED, PARTNER, msg("alice@%s" % PARTNER, body))
            ts = [threading.Thread(target=inject, args=(i, "queued %d" % i)) for i in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            for i in range(2):
                check(results.get(i, (1, ""))[0] == 0, "queued stanza %d acknowledged as sent" % i,
                      results.get(i), edge.log_text()[-3000:])
                check(alice.wait_message(timeout=20, body="queued %d" % i) is not None,
                      "queued stanza %d reaches alice" % i)
            rc, out = edge.inject(HOSTED, PARTNER, msg("alice@%s" % PARTNER, "reused"))
            check(rc == 0 and alice.wait_message(timeout=20, body="reused") is not None,
                  "a later stanza goes out too")
            n_out = edge.log_text().count("dir=out peer=- local=%s remote=%s event=connect" % (HOSTED, PARTNER))
            check(n_out == 1, "one outbound stream for the domain pair, reused (%d made)" % n_out,
                  edge.log_text()[-4000:])

        for dom, cond in ((NODNS, "remote-server-not-found"), (DOT, "remote-server-not-found"),
                          (BLACKHOLE, "remote-server-timeout")):
            rc, out = edge.inject(HOSTED, dom, msg("x@%s" % dom, "to %s" % dom))
            check(rc != 0 and cond in out, "%s: bounced with %s" % (dom, cond), out,
                  edge.log_text()[-3000:])
        check("event=connect target=%s" % DOT not in edge.log_text(),
              "'.' SRV target: no A/AAAA fallback connection")

        # the global connection limit
        edge.version = 2
        edge.settings["max_connections"] = 1
        edge.settings["max_connections_per_partner"] = 1
        edge.write_conf()
        edge.proc.signal(1)
        edge.wait_log(r"event=reload version=2")
        rc, out = edge.inject(HOSTED, NODNS, msg("y@%s" % NODNS, "over the limit"))
        check(rc != 0 and "resource-constraint" in out,
              "global connection limit: bounced with resource-constraint", out)
        check(edge.alive(), "the edge is still running")
        edge.proc.signal(15)
        check(edge.proc.wait(10) == 0, "clean stop")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
