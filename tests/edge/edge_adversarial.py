#!/usr/bin/python3
"""Adversarial peers against xfed-edge on raw sockets (issue 3), while a good
partner (a real Prosody 0.12, fabrikam.example) keeps being served.

Each hostile peer must get the right RFC 6120 stream error and nothing it
sends may reach the gateway side (`xfedctl tap`):
  spoofed 'from' after SASL EXTERNAL       invalid-from
  stanza before authentication             not-authorized
  STARTTLS stripped, inbound               <required/> offered, then policy-violation
  STARTTLS stripped, outbound              the edge sends <starttls/> anyway (RFC 7590)
  DOCTYPE with entity expansion            restricted-xml
  a 10 MB stanza after authentication      policy-violation
  invalid UTF-8                            not-well-formed
  nesting 10,000 deep                      policy-violation
  one byte per second                      connection-timeout at the establishment timeout
  a dialback key for another domain pair   db:result type='invalid', not-authorized
  an unsolicited dialback answer           not-authorized
  500 connections that never send a header connection-timeout, all closed
"""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab, RawPeer  # noqa: E402
from harness.raw_peer import close_all, dialback_key, open_idle_connections  # noqa: E402
from edgelab import EdgeUnderTest, check, partner, tap_output  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
TLS_ONLY = "litware.example"       # TLS Required partner played by a raw peer
STRIPPER = "northwind.example"     # outbound partner whose "server" strips STARTTLS
ESTABLISH = 12                     # establish_timeout for this test (seconds)

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def peer(fed):
    return RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)


def open_stream(p, from_=PARTNER):
    p.send_header(to=HOSTED, from_=from_)
    h = p.read_header()
    f = p.read_features()
    return h, f


def sasl_peer(fed):
    """A raw peer authenticated as fabrikam.example with SASL EXTERNAL."""
    p = peer(fed)
    open_stream(p)
    check(p.starttls(cert=fed.certs[PARTNER], cafile=fed.ca.cafile), "raw peer: STARTTLS")
    h, f = open_stream(p)
    check(f is not None and "EXTERNAL" in f, "raw peer: EXTERNAL offered for a valid certificate", f)
    p.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
    check(p.read_until(r"<success\b") is not None, "raw peer: SASL EXTERNAL success", p.received)
    open_stream(p)
    return p


def expect_error(p, condition, what):
    err = p.read_stream_error(timeout=20)
    check(err is not None and err.condition == condition,
          "%s: stream error %s" % (what, condition), repr(err), p.received[-2000:])
    check(p.wait_closed(10), "%s: the edge closes the connection" % what)


def good_partner_served(fed, tap, body):
    with fed.partner_client() as alice:
        alice.send("bob@%s" % HOSTED, body)
        ok = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if body in tap_output(tap):
                ok = True
                break
            time.sleep(0.2)
        check(ok, "good partner still served: %r reached the tap" % body, tap_output(tap))


def fake_stripping_server(fed, port, box):
    """A receiving server for northwind.example that advertises no STARTTLS."""
    def serve():
        def body():
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((fed.partner.ip, port))
            ls.listen(4)
            return ls
        from harness.netns import in_netns
        ls = in_netns(fed.partner.ns, body)
        ls.settimeout(60)
        try:
            c, _ = ls.accept()
        except OSError:
            return
        c.settimeout(10)
        data = b""
        try:
            while b"<stream:stream" not in data:
                data += c.recv(4096) or b"x"
            c.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                      b"xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
                      b"id='strip1' from='northwind.example' version='1.0'>"
                      b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>")
            t0 = time.monotonic()
            while time.monotonic() - t0 < 10 and b"<starttls" not in data and b"db:result" not in data:
                d = c.recv(4096)
                if not d:
                    break
                data += d
        except OSError:
            pass
        box["data"] = data
        c.close()
        ls.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required")
        fed.dns.a(STRIPPER, fed.partner.ip).apply()
        partners = [
            partner(PARTNER, tls="Optional", sasl="Optional", dialback=True),
            partner(TLS_ONLY, tls="Required", sasl="Required", dialback=True),
            partner(STRIPPER, tls="Required", sasl="NotSupported", dialback=True,
                    proxy="%s:5299" % fed.partner.ip),
        ]
        edge = EdgeUnderTest(fed, partners, settings=dict(establish_timeout=ESTABLISH)).start()
        fed.partner_prosody.start()
        tap = edge.tap(timeout=400)
        good_partner_served(fed, tap, "good before")

        # Slow and silent peers run while the others are tested.
        t_start = time.monotonic()
        idle = open_idle_connections(fed.partner, fed.edge.ip, 5269, 500)
        check(len(idle) == 500, "500 idle connections opened (%d)" % len(idle))
        slow = peer(fed)
        slow_result = {}

        def trickle():
            slow.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' to='contoso.example'>",
                      chunk=1, delay=1.0, max_time=ESTABLISH + 15)
            slow_result["err"] = slow.read_stream_error(timeout=5)
            slow_result["elapsed"] = time.monotonic() - t_start
        slow_thread = threading.Thread(target=trickle, daemon=True)
        slow_thread.start()

        # stanza before authentication
        with peer(fed) as p:
            open_stream(p)
            p.send("<message from='eve@%s' to='bob@%s'><body>before auth</body></message>" % (PARTNER, HOSTED))
            expect_error(p, "not-authorized", "stanza before authentication")

        # spoofed from after SASL EXTERNAL
        p = sasl_peer(fed)
        p.send("<message from='carol@%s' to='bob@%s'><body>raw ok</body></message>" % (PARTNER, HOSTED))
        p.send("<message from='mallory@%s' to='bob@%s'><body>spoofed</body></message>" % (TLS_ONLY, HOSTED))
        expect_error(p, "invalid-from", "spoofed 'from' after authentication")
        p.close()

        # 10 MB stanza after authentication
        p = sasl_peer(fed)
        p.send("<message from='carol@%s' to='bob@%s'><body>" % (PARTNER, HOSTED))
        sent = p.send(b"a" * (10 * 1024 * 1024), chunk=65536, max_time=30)
        expect_error(p, "policy-violation", "10 MB stanza")
        check(edge.wait_log(r"condition=policy-violation state=established reason=\"element larger"),
              "10 MB stanza refused at the stanza size cap, not buffered (%d bytes sent)" % sent)
        p.close()

        # STARTTLS stripped (inbound): a TLS Required partner skipping STARTTLS
        with peer(fed) as p:
            _, f = open_stream(p, from_=TLS_ONLY)
            check(f is not None and "<required/>" in f and "starttls" in f,
                  "STARTTLS offered with <required/> to a TLS Required partner", f)
            p.send("<db:result from='%s' to='%s'>abcdef</db:result>" % (TLS_ONLY, HOSTED))
            expect_error(p, "policy-violation", "STARTTLS stripped (inbound)")

        # DOCTYPE with entity expansion
        with peer(fed) as p:
            p.send("<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY a 'aaaaaaaaaa'>"
                   "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
                   "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
                   "to='%s' from='%s' version='1.0'>&b;" % (HOSTED, PARTNER))
            expect_error(p, "restricted-xml", "DOCTYPE with entities")

        # invalid UTF-8
        with peer(fed) as p:
            open_stream(p)
            p.send(b"<message from='a@fabrikam.example' to='b@contoso.example'><body>\xff\xfe\xc3</body></message>")
            expect_error(p, "not-well-formed", "invalid UTF-8")

        # nesting 10,000 deep
        with peer(fed) as p:
            open_stream(p)
            p.send("<message>" + "<x>" * 10000)
            expect_error(p, "policy-violation", "nesting 10,000 deep")

        # dialback key for another domain pair (the authoritative Prosody says invalid)
        with peer(fed) as p:
            h, _ = open_stream(p)
            key = dialback_key("not-the-secret", HOSTED, TLS_ONLY, h.get("id", ""))
            p.send("<db:result from='%s' to='%s'>%s</db:result>" % (PARTNER, HOSTED, key))
            r = p.read_until(r"<db:result[^>]*type=['\"](\w+)['\"]", timeout=20)
            check(r is not None and r.group(1) == b"invalid",
                  "dialback key for another pair answered invalid", p.received[-2000:], edge.log_text()[-4000:])
            expect_error(p, "not-authorized", "dialback key for another domain pair")

        # an unsolicited dialback answer
        with peer(fed) as p:
            open_stream(p)
            p.send("<db:verify from='%s' to='%s' id='nope' type='valid'/>" % (PARTNER, HOSTED))
            expect_error(p, "not-authorized", "unsolicited dialback answer")

        # STARTTLS stripped (outbound): the edge tries STARTTLS anyway
        box = {}
        srv = fake_stripping_server(fed, 5299, box)
        time.sleep(0.5)
        rc, out = edge.inject(HOSTED, STRIPPER,
                              "<message xmlns='jabber:server' from='bob@%s' to='x@%s'><body>strip</body></message>"
                              % (HOSTED, STRIPPER), timeout=40)
        srv.join(30)
        data = box.get("data", b"")
        check(b"<starttls" in data and b"db:result" not in data,
              "outbound: <starttls/> sent although not advertised (RFC 7590)", data, edge.log_text()[-3000:])
        check(rc != 0 and "remote-server" in out, "outbound: the injected stanza is bounced", out)

        good_partner_served(fed, tap, "good during")

        # the slow peer and the 500 silent ones
        slow_thread.join(ESTABLISH + 30)
        err = slow_result.get("err")
        check(err is not None and err.condition == "connection-timeout",
              "one byte per second: connection-timeout", repr(err), slow.received)
        check(slow_result["elapsed"] < ESTABLISH + 10,
              "one byte per second: closed at the establishment timeout (%.1fs)" % slow_result["elapsed"])
        wait = ESTABLISH + 8 - (time.monotonic() - t_start)
        if wait > 0:
            time.sleep(wait)
        closed = 0
        errors = 0
        for s in idle:
            s.settimeout(2)
            data = b""
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        closed += 1
                        break
                    data += d
            except OSError:
                pass
            if b"connection-timeout" in data:
                errors += 1
        close_all(idle)
        check(closed == 500 and errors == 500,
              "500 silent connections each got connection-timeout and were closed (%d, %d)" % (errors, closed))

        good_partner_served(fed, tap, "good after")
        out = tap_output(tap)
        for bad in ("before auth", "spoofed", "strip"):
            check(bad not in out, "nothing of the hostile peers reached the tap (%s)" % bad, out)
        check("raw ok" in out, "the authenticated raw peer's valid stanza did arrive", out)
        check(edge.alive(), "the edge survived everything")
        edge.proc.signal(15)
        check(edge.proc.wait(10) == 0, "clean stop", edge.log_text()[-3000:])
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
