#!/usr/bin/python3
"""End to end, partner types and the XMPP access policy (DESIGN.md section 2,
issue 4 item 5), one partner (fabrikam.example) whose type the gateway's
configuration plane changes in the middle (xfedctl partner set: the gateway
reloads xfed.conf and pushes it to the edge):

  1. PublicUnverified: alice's message to dave is refused (<forbidden/>, "not
     invited") and never reaches dave's UA; her subscription gets `unsubscribed`
  2. dave invites alice by messaging her (202, delivered); now alice's message
     reaches dave and her subscription is approved, but carol-style notes are
     not carried: dave's PUBLISHed note does not reach alice
  3. PublicVerified: alice may message frank without an invitation; still no note
  4. Federated: dave's note reaches alice as <status/>
  5. eve has no XMPP access: alice's message gets <forbidden/>, her subscription
     `unsubscribed`; eve's MESSAGE to alice gets 403
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gwlab import HOSTED, PARTNER, GatewayLab, check  # noqa: E402
from harness import Lab  # noqa: E402

DAVE = "dave@" + HOSTED
EVE = "eve@" + HOSTED
FRANK = "frank@" + HOSTED


def main():
    with Lab() as lab:
        g = GatewayLab(lab, partner_type="PublicUnverified")
        g.xfedctl("access", "user", EVE, "deny")
        g.start()
        d = g.dumps()
        dave = g.uas("dave")
        frank = g.uas("frank")
        eve = g.uas("eve")
        alice = g.client("alice")

        # 1. PublicUnverified, not invited
        alice.send(DAVE, "hello dave?", id_="u1")
        err = alice.wait_error(timeout=20, id_="u1")
        check(err is not None and err["condition"] == "forbidden" and
              "invited" in (err["text"] or ""),
              "PublicUnverified: an uninvited message is refused with forbidden: %r" % (err,), *d)
        check(dave.wait_received(lambda m: "hello dave?" in m, 2) is None,
              "the refused message never reaches dave's UA", dave.messages)
        alice.subscribe(DAVE)
        p = alice.wait_presence(timeout=20, from_=DAVE, type_="unsubscribed")
        check(p is not None, "an uninvited subscription gets unsubscribed", repr(alice.events), *d)

        # 2. dave invites alice; notes still not carried
        code, m = g.message("dave", "alice@" + PARTNER, "hi alice, this is dave")
        check(code == 202 and alice.wait_message(timeout=15, body="this is dave") is not None,
              "dave's MESSAGE to alice is delivered (and invites her)", m.messages, *d)
        alice.send(DAVE, "thanks dave", id_="u2")
        ok = dave.wait_received(lambda m: "thanks dave" in m, 20)
        check(ok is not None, "after the invitation alice's message reaches dave", *d)
        alice.drain()
        alice.subscribe(DAVE)
        check(alice.wait_presence(timeout=20, from_=DAVE, type_="subscribed") is not None,
              "after the invitation alice's subscription to dave is approved", *d)
        etag = g.publish("dave", "open", "Secret plans")
        p = alice.wait_presence(timeout=20, from_=DAVE, type_="available")
        check(p is not None and p["status"] == "",
              "PublicUnverified: dave's presence arrives without his note: %r" % (p,), *d)

        # 3. PublicVerified: no invitation needed, still no notes
        g.set_partner_type("PublicVerified")
        alice.send(FRANK, "hello frank", id_="v1")
        ok = frank.wait_received(lambda m: "hello frank" in m, 20)
        check(ok is not None and alice.wait_error(timeout=1, id_="v1") is None,
              "PublicVerified: alice may message frank without an invitation", *d)
        etag = g.publish("dave", "open", "Still secret", "<rpid:away/>", etag=etag)
        p = alice.wait_presence(timeout=20, from_=DAVE, show="away")
        check(p is not None and p["status"] == "",
              "PublicVerified: dave's away arrives without his note: %r" % (p,), *d)

        # 4. Federated: notes
        g.set_partner_type("Federated")
        etag = g.publish("dave", "open", "Visible note", etag=etag)
        p = alice.wait_presence(timeout=20, from_=DAVE, status="Visible note")
        check(p is not None, "Federated: dave's note reaches alice as status", *d)

        # 5. no XMPP access
        alice.send(EVE, "hello eve", id_="x1")
        err = alice.wait_error(timeout=20, id_="x1")
        check(err is not None and err["condition"] == "forbidden" and
              "XMPP" in (err["text"] or ""),
              "a user without XMPP access: alice's message is refused: %r" % (err,), *d)
        check(eve.wait_received(lambda m: "hello eve" in m, 2) is None,
              "nothing reaches eve's UA", eve.messages)
        alice.subscribe(EVE)
        check(alice.wait_presence(timeout=20, from_=EVE, type_="unsubscribed") is not None,
              "a subscription to eve gets unsubscribed", *d)
        code, m = g.message("eve", "alice@" + PARTNER, "can I federate?")
        check(code == 403, "eve's MESSAGE to a partner gets 403: %s" % code, m.messages, *d)
        check(alice.wait_message(timeout=2, body="can I federate?") is None,
              "eve's message never reaches alice")

        alice.close()
        check(g.stop_gateway() == 0, "SIGTERM stops the gateway with exit code 0", g.gw_log)
    print("5 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
