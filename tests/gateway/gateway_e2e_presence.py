#!/usr/bin/python3
"""End to end, presence both ways with a gateway restart in the middle
(issue 4 items 4 and 5; RFC 8048, RFC 6665, RFC 3856):

  Prosody fabrikam.example (alice, a real slixmpp client) <-> xfed-edge <->
  xfed-gateway <-> Kamailio 5.6 presence + presence_xml <-> sipp users

Cases (one lab for the whole file; run as root):
  1. XMPP -> SIP subscription: alice subscribes to carol; Kamailio authorises the
     gateway's SUBSCRIBE (force_active) and alice gets `subscribed`
  2. carol's PUBLISHed states reach alice: available with her note (Federated
     partner), away, dnd (RPID busy), unavailable
  3. SIP -> XMPP subscription: carol's UA (sipp) subscribes to alice; alice gets
     `subscribe`, approves, and the UA gets NOTIFY pending, then active with PIDF open
  4. alice's away and dnd reach the UA as PIDF with jabber:client show and note; two
     quick changes after that are coalesced into one NOTIFY 5 s later (P37)
  5. the gateway restarts (SIGTERM, start): both subscriptions survive -- carol's
     next PUBLISH still reaches alice, alice's next change still reaches the UA
  6. unsubscription both ways: alice goes unavailable (PIDF closed), the UA
     unsubscribes (NOTIFY terminated), alice unsubscribes from carol (SUBSCRIBE
     Expires 0 in the dialog)
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gwlab import HOSTED, PARTNER, GatewayLab, check  # noqa: E402
from harness import Lab  # noqa: E402

CAROL = "carol@" + HOSTED


def notify_with(w, *patterns, timeout=25):
    """The first NOTIFY the watcher received whose text matches every pattern."""
    rx = [re.compile(p, re.S) for p in patterns]
    return w.wait_received(lambda m: m.startswith("NOTIFY ") and all(r.search(m) for r in rx),
                           timeout)


def main():
    with Lab() as lab:
        g = GatewayLab(lab).start()
        alice = g.client("alice")
        d = g.dumps()

        # 1. XMPP -> SIP subscription
        alice.subscribe(CAROL)
        ok = alice.wait_presence(timeout=25, from_=CAROL, type_="subscribed")
        check(ok is not None, "alice's subscription to carol is approved (subscribed)",
              repr(alice.events), *d)
        check(re.search(r"event=sub dir=x2s xmpp=alice@fabrikam\.example sip=sip:carol@"
                        r"contoso\.example kind=\d+ state=subscribing->active", g.gw_log())
              is not None, "the gateway's SIP subscription became active on Kamailio's NOTIFY",
              g.gw_log)

        # 2. carol's states reach alice
        alice.drain()
        etag = g.publish("carol", "open", "Working")
        p = alice.wait_presence(timeout=20, from_=CAROL, type_="available")
        check(p is not None and p["status"] == "Working" and p["show"] == "",
              "carol's PUBLISH (open, note) reaches alice as available with status: %r" % (p,), *d)
        etag = g.publish("carol", "open", "Out for lunch", "<rpid:away/>", etag=etag)
        p = alice.wait_presence(timeout=20, from_=CAROL, show="away")
        check(p is not None and p["status"] == "Out for lunch",
              "RPID away reaches alice as show away: %r" % (p,), *d)
        etag = g.publish("carol", "open", "In a meeting", "<rpid:busy/>", etag=etag)
        p = alice.wait_presence(timeout=20, from_=CAROL, show="dnd")
        check(p is not None, "RPID busy reaches alice as show dnd: %r" % (p,), *d)
        etag = g.publish("carol", "closed", "Gone home", etag=etag)
        p = alice.wait_presence(timeout=20, from_=CAROL, type_="unavailable")
        check(p is not None, "basic closed reaches alice as unavailable", *d)

        # 3. SIP -> XMPP subscription with approval
        w = g.sipp("watch.xml", {"user": "carol", "domain": HOSTED, "peer": "alice@" + PARTNER,
                                 "expires": 600},
                   timeout=400, extra=("-aa",))
        req = alice.wait_presence(timeout=25, from_=CAROL, type_="subscribe")
        check(req is not None, "carol's SIP SUBSCRIBE reaches alice as a subscription request",
              w.messages, *d)
        check(notify_with(w, r"Subscription-State: pending") is not None,
              "the UA gets NOTIFY pending at once (RFC 6665 section 4.2.1.2)", w.messages, *d)
        alice.approve(CAROL)
        n = notify_with(w, r"Subscription-State: active", r"<basic>open</basic>")
        check(n is not None, "after approval the UA gets NOTIFY active with PIDF open",
              w.messages, *d)
        check(re.search(r"entity=.pres:alice@fabrikam\.example", n) is not None and
              re.search(r"<tuple id=.ID-", n) is not None,
              "the PIDF names alice and has an ID- tuple (RFC 8048 section 6.2)", n)

        # 4. alice's changes reach the UA
        alice.presence(show="away", status="Out")
        n = notify_with(w, r"<show xmlns=.jabber:client.>away</show>", r"<note[^>]*>Out</note>")
        check(n is not None, "alice away with status reaches the UA as PIDF show away + note",
              w.messages, *d)
        alice.presence(show="dnd")
        n = notify_with(w, r"<show xmlns=.jabber:client.>dnd</show>", r"busy")
        check(n is not None, "alice dnd reaches the UA as show dnd with RPID busy", w.messages,
              *d)
        # P37: two changes within notify_min_interval_ms (5 s) of the dnd NOTIFY are
        # coalesced into one NOTIFY with the latest state, sent when the interval is up
        t0 = time.monotonic()
        alice.presence(show="chat", status="Coalesced away")
        alice.presence(show="away", status="Latest state")
        n = notify_with(w, r"<note[^>]*>Latest state</note>")
        waited = time.monotonic() - t0
        check(n is not None, "the latest of two quick changes reaches the UA", w.messages, *d)
        check(not any("Coalesced away" in m for m in w.received()),
              "the change in between was coalesced (one NOTIFY per 5 s, RFC 6665 4.1.2.1)",
              w.messages)
        check(waited >= 3.0, "the coalesced NOTIFY waited for the interval (%.1f s)" % waited)
        m = g.scrape()

        def val(name, **labels):
            return m.get((name, tuple(sorted(labels.items())))) or 0

        check(val("xfed_gateway_notifies_held_total") >= 1 and
              val("xfed_gateway_sip_requests_total", method="NOTIFY", direction="out") >= 4 and
              val("xfed_gateway_sip_requests_total", method="NOTIFY", direction="in") >= 1 and
              val("xfed_gateway_sip_requests_total", method="SUBSCRIBE", direction="in") >= 1 and
              val("xfed_gateway_sip_requests_total", method="SUBSCRIBE", direction="out") >= 1,
              "the scrape counts NOTIFY and SUBSCRIBE both ways and the held NOTIFYs",
              repr(sorted((k, v) for k, v in m.items() if k[0].startswith("xfed_gateway"))))
        check(val("xfed_gateway_subscriptions", direction="to_xmpp") == 1 and
              val("xfed_gateway_subscriptions", direction="to_sip") == 1 and
              val("xfed_gateway_dialogs") >= 2,
              "the scrape shows one subscription each way and their dialogs",
              repr(sorted((k, v) for k, v in m.items() if k[0].startswith("xfed_gateway"))))
        check(val("xfed_gateway_store_calls_total") > 0 and
              val("xfed_gateway_store_microseconds_total") > 0,
              "store calls and their time are counted (mean %.0f us)"
              % (val("xfed_gateway_store_microseconds_total") /
                 max(1, val("xfed_gateway_store_calls_total"))))

        # 5. restart in the middle
        check(g.stop_gateway() == 0, "the gateway stops on SIGTERM with 0", g.gw_log)
        g.start_gateway()
        m = g.wait_gw_log(r"event=recovered subscriptions=(\d+) refreshed=(\d+) probed=(\d+)")
        check(int(m.group(1)) >= 2 and int(m.group(2)) >= 1 and int(m.group(3)) >= 1,
              "after the restart the gateway finds both subscriptions in its database: %s"
              % m.group(0), g.gw_log)
        alice.drain()
        etag = g.publish("carol", "open", "Back after the restart", etag=etag)
        p = alice.wait_presence(timeout=25, from_=CAROL, type_="available",
                                status="Back after the restart")
        check(p is not None, "carol's PUBLISH after the restart still reaches alice",
              repr(alice.events), *d)
        alice.presence(show="xa", status="Far away")
        n = notify_with(w, r"<show xmlns=.jabber:client.>xa</show>", r"Far away")
        check(n is not None, "alice's change after the restart still reaches the UA in its dialog",
              w.messages, *d)

        # 6. unsubscription both ways
        alice.presence(ptype="unavailable")
        n = notify_with(w, r"<basic>closed</basic>")
        check(n is not None, "alice unavailable reaches the UA as PIDF closed", w.messages, *d)
        rc = w.wait(40)
        check(rc == 0 and notify_with(w, r"Subscription-State: terminated", timeout=1),
              "the UA's unsubscribe ends with NOTIFY terminated (sipp exit %s)" % rc,
              w.messages, *d)
        alice.presence(to=CAROL, ptype="unsubscribe")
        g.wait_gw_log(r"sip=sip:carol@contoso\.example kind=\d+ state=active->unsubscribing", 20)
        g.wait_gw_log(r"sip=sip:carol@contoso\.example kind=\d+ state=unsubscribing->terminated",
                      40)
        print("ok: alice's unsubscribe ends the SIP subscription (Expires 0 in the dialog)")
        alice.close()
        check(g.stop_gateway() == 0, "SIGTERM stops the gateway with exit code 0", g.gw_log)
    print("6 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
