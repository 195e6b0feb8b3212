#!/usr/bin/python3
"""End to end, instant messages and errors both ways (issue 4 items 2, 3, 7):

  Prosody fabrikam.example (alice, a real slixmpp client) <-> xfed-edge <->
  xfed-gateway <-> Kamailio 5.6 <-> sipp users of contoso.example

SIP runs over TLS both ways (gateway -> Kamailio verified against the lab's CA and the
name sip.contoso.example, RFC 5922 section 7; Kamailio -> gateway's TLS listener).

Cases (one lab for the whole file; run as root, ctest passes XFED_BIN and XFED_SRC):
  1. XMPP -> SIP: alice's message reaches bob's SIP UA (sipp) as MESSAGE text/plain
  2. SIP -> XMPP: carol's MESSAGE reaches alice's client; carol's UA gets 202
  3. Kamailio 404 (no such user) -> <item-not-found/> (cancel) at alice
  4. a UA's 480 -> <recipient-unavailable/> (wait) at alice, with the reason text
  5. an XMPP error (Prosody: no such user) -> the mapped SIP response at carol's UA
  6. several messages to one user arrive in order (one MESSAGE pending per URI)
  7. no edge connected: a MESSAGE waits, then fails with 408 after queue_timeout;
     inbound IM works again once the edge is back
  8. a SIP server certificate that does not name the configured server is refused, with
     a log line that says so, and the gateway never takes the next hop as up
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gwlab import HOSTED, PARTNER, GatewayLab, check  # noqa: E402
from harness import Lab  # noqa: E402


def main():
    with Lab() as lab:
        g = GatewayLab(lab, gw_local={"queue_timeout": 4}, tls=True).start()
        check(re.search(r"event=sip-tls peer=\S+ side=next-hop tls=TLSv1\.[23] \S+ verify=ok "
                        r"name=(dns-id|uri-id)",
                        g.gw_log()) is not None,
              "the gateway reaches Kamailio over TLS, chain and host name verified", g.gw_log)
        bob = g.uas("bob")
        dave = g.uas("dave", "uas_480.xml")
        alice = g.client("alice")

        # 1. XMPP -> SIP
        alice.send("bob@" + HOSTED, "hello bob, caf\u00e9")
        msg = bob.wait_received(lambda m: m.startswith("MESSAGE ") and "hello bob" in m, 30)
        check(msg is not None, "alice's message reaches bob's SIP UA", bob.messages, *g.dumps())
        check(re.search(r"^From: .*sip:alice@fabrikam\.example;gr=", msg, re.M | re.I) is not None,
              "From is alice's address with her resource as gr (RFC 7247 section 6.3)", msg)
        check(re.search(r"^Content-Type: text/plain", msg, re.M | re.I) is not None,
              "the MESSAGE is text/plain (RFC 7572 section 4)", msg)
        check("hello bob, caf\u00e9" in msg, "the body arrives byte-exact in UTF-8", msg)
        check(alice.wait_error(timeout=2) is None, "alice gets no error for a delivered message")

        # 2. SIP -> XMPP
        code, m = g.message("carol", "alice@" + PARTNER, "hi alice from SIP")
        check(code == 202, "carol's MESSAGE is answered 202 (RFC 3428 section 7): %s" % code,
              m.messages, *g.dumps())
        got = alice.wait_message(timeout=15, body="hi alice from SIP")
        check(got is not None and got["from"].split("/")[0] == "carol@" + HOSTED,
              "alice's client receives carol's message from carol@contoso.example",
              repr(alice.events), *g.dumps())
        check(got["type"] in ("normal", "", None), "no type or type normal (RFC 7572 section 5)",
              repr(got))

        # 3. Kamailio 404 -> item-not-found
        alice.send("nobody@" + HOSTED, "anyone there?", id_="e404")
        err = alice.wait_error(timeout=20, id_="e404")
        check(err is not None and err["condition"] == "item-not-found" and err["etype"] == "cancel",
              "a Kamailio 404 reaches alice as item-not-found/cancel: %r" % (err,), *g.dumps())

        # 4. a UA's 480 -> recipient-unavailable
        alice.send("dave@" + HOSTED, "are you there, dave?", id_="e480")
        err = alice.wait_error(timeout=20, id_="e480")
        check(err is not None and err["condition"] == "recipient-unavailable" and
              err["etype"] == "wait",
              "dave's 480 reaches alice as recipient-unavailable/wait: %r" % (err,), *g.dumps())
        check("Temporarily Unavailable" in (err["text"] or ""),
              "the SIP reason phrase is the error text", repr(err))

        # 5. an XMPP error -> the mapped SIP response
        code, m = g.message("carol", "ghost@" + PARTNER, "is anybody home?")
        check(code == 403,
              "Prosody's service-unavailable for a missing user reaches carol as 403 "
              "(RFC 7247 section 7.1 note 5, never 503): %s" % code, m.messages, *g.dumps())

        # 6. order per destination
        for i in range(5):
            alice.send("bob@" + HOSTED, "ordered %d" % i)
        ok = bob.wait_received(lambda m: "ordered 4" in m, 30)
        got = [int(x) for x in re.findall(r"ordered (\d)", "\n".join(bob.received()))]
        check(ok is not None and got == sorted(got) and set(got) == set(range(5)),
              "five messages to bob arrive once each and in order: %r" % got, bob.messages)

        # metrics (docs/metrics.md): scraped from the gateway during the run
        m = g.scrape()

        def val(name, **labels):
            return m.get((name, tuple(sorted(labels.items()))))

        check(any(k[0] == "xfed_build_info" and ("program", "xfed-gateway") in k[1] and v == 1
                  for k, v in m.items()), "xfed_build_info names xfed-gateway")
        check((val("xfed_gateway_sip_requests_total", method="MESSAGE", direction="out") or 0) >= 8,
              "SIP MESSAGEs sent are counted by method: %r"
              % val("xfed_gateway_sip_requests_total", method="MESSAGE", direction="out"))
        check((val("xfed_gateway_sip_requests_total", method="MESSAGE", direction="in") or 0) >= 2,
              "SIP MESSAGEs received are counted")
        check((val("xfed_gateway_sip_responses_total", **{"class": "2xx", "direction": "in"})
               or 0) >= 6 and
              (val("xfed_gateway_sip_responses_total", **{"class": "4xx", "direction": "in"})
               or 0) >= 2 and
              (val("xfed_gateway_sip_responses_total", **{"class": "2xx", "direction": "out"})
               or 0) >= 1, "SIP responses are counted by class both ways")
        check((val("xfed_gateway_messages_total", direction="to_sip") or 0) >= 6 and
              (val("xfed_gateway_messages_total", direction="to_xmpp") or 0) >= 1,
              "translated messages are counted both ways")
        check((val("xfed_gateway_stanzas_total", direction="in") or 0) >= 8 and
              (val("xfed_gateway_stanzas_total", direction="out") or 0) >= 3,
              "stanzas from and to the edges are counted")
        check(val("xfed_gateway_sip_transactions", role="client") is not None and
              val("xfed_gateway_queue_depth") == 0 and
              (val("xfed_ipc_messages_total", direction="in") or 0) > 0 and
              any(k[0] == "xfed_ipc_peer_up" and v == 1 for k, v in m.items()) and
              val("xfed_gateway_store_calls_total") is not None and
              val("xfed_gateway_config_version") >= 1 and
              (val("process_cpu_seconds_total") or 0) > 0,
              "transactions, queue, IPC, store, configuration and process series are there",
              repr(sorted(k for k in m if not k[0].startswith("process"))))

        # 7. no edge: held, then 408; and back
        g.edge.proc.signal(15)
        g.edge.proc.wait(15)
        g.lab.forget(g.edge.proc)
        g.wait_gw_log(r"event=edge-down", 15)
        code, m = g.message("carol", "alice@" + PARTNER, "nobody to carry this", timeout=40)
        check(code == 408, "with no edge the MESSAGE fails after queue_timeout with 408: %s" % code,
              m.messages, g.gw_log)
        check(re.search(r"event=ipc-queue-timeout", g.gw_log()) is not None,
              "the gateway held the stanza and timed it out", g.gw_log)
        g.edge.start()
        g.wait_gw_log(r"event=edge-up(.|\n)*event=edge-up", 20)
        alice.send("bob@" + HOSTED, "after the edge came back")
        ok = bob.wait_received(lambda m: "after the edge came back" in m, 40)
        check(ok is not None, "IM flows again once the edge is back", *g.dumps())

        check(re.search(r"event=sip-tls peer=\S+ side=listener tls=TLSv1\.[23] .* verify=ok "
                        r"name=(dns-id|uri-id) verify_client=required", g.gw_log()) is not None,
              "Kamailio reaches the gateway's listener over TLS with its client certificate "
              "verified (sip_tls_verify_client defaults to required with sip_ca_file)", g.gw_log)

        alice.close()
        check(g.stop_gateway() == 0, "SIGTERM stops the gateway with exit code 0", g.gw_log)

        # 8. a certificate for another name: refused (RFC 5922 section 7.2, RFC 6125 6.4.1)
        g.local["sip_server_name"] = "voice.contoso.example"
        g.write_local()
        g.start_gateway(wait=False)
        g.wait_gw_log(r"event=sip-tls peer=\S+ side=next-hop outcome=refused verify=ok "
                      r"verify_client=- reason=\"certificate does not name voice\.contoso\.example\"", 20)
        check("event=sip-next-hop-up" not in g.gw_log(),
              "a SIP server certificate for another name is refused with a clear log line",
              g.gw_log)
        check(g.stop_gateway() == 0, "the refused gateway still stops cleanly", g.gw_log)
    print("8 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
