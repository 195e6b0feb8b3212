#!/usr/bin/python3
"""Self-test of the real-peer harness: two real Prosody 0.12 servers federate through it.

fabrikam.example runs in the "partner" namespace, contoso.example in the
"edge" namespace (where xfed-edge will run), dnsmasq in a third, all on a
bridge in a fourth; certificates come from a test CA made now. Cases:

 1. TLS + certificate authentication (s2s_secure_auth, SASL EXTERNAL) both
    ways; fabrikam reaches contoso over direct TLS (_xmpps-server SRV, 5270),
    contoso reaches fabrikam over STARTTLS (5269).
 2. Raw peer against contoso: DOCTYPE -> stream error; header to a host it
    does not serve -> host-unknown; header from an unknown domain -> answered,
    a stanza before authentication is dropped, and after STARTTLS the
    certificate does not match -> not-authorized; a raw peer with fabrikam's
    certificate does SASL EXTERNAL and delivers a message to a real client.
 3. Dialback only over plain TCP (TLS off, s2s_insecure_domains) both ways.
 4. contoso presents a certificate for the wrong domain under
    s2s_secure_auth: nothing delivered either way, senders get bounces,
    Prosody logs the certificate failure.

Run as root: /usr/bin/python3 tests/harness/selftest.py  (XFED_KEEP_TMP=1 keeps logs).
Exit 0 when every case passed, 1 otherwise.
"""

import base64
import os
import re
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

from harness import Federation, Lab, Prosody, RawPeer, TestCA, dialback_key, login_to  # noqa: E402

FAB, CON = "fabrikam.example", "contoso.example"
PW = "harness-pw"
T_MSG = 10.0  # seconds a message may take to arrive
T_SILENCE = 2.0  # seconds we listen to be sure nothing arrives


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


class Timer:
    def __init__(self):
        self.t0 = time.monotonic()
        self.steps = []

    def step(self, name):
        self.steps.append((name, time.monotonic()))
        print("  [%6.2fs] %s" % (time.monotonic() - self.t0, name), flush=True)


def exchange(timer, fab, con, tag):
    """alice@fabrikam -> bob@contoso and back; both must arrive."""
    with login_to(fab, "alice", PW) as alice, login_to(con, "bob", PW) as bob:
        timer.step("%s: clients logged in" % tag)
        body1 = "hello bob (%s)" % tag
        alice.send(con.jid("bob"), body1)
        m = bob.wait_message(T_MSG, from_=fab.jid("alice"))
        check(m is not None and m["body"] == body1, "%s: alice -> bob not delivered (got %r, alice saw %r)"
              % (tag, m, alice.received()))
        timer.step("%s: fabrikam -> contoso delivered" % tag)
        body2 = "hello alice (%s)" % tag
        bob.send(fab.jid("alice"), body2)
        m = alice.wait_message(T_MSG, from_=con.jid("bob"))
        check(m is not None and m["body"] == body2, "%s: bob -> alice not delivered (got %r, bob saw %r)"
              % (tag, m, bob.received()))
        timer.step("%s: contoso -> fabrikam delivered" % tag)


def case_tls_external(timer, lab, dns, ca, fab, con, certs):
    dns.clear_srv()
    dns.srv("xmpp-server", CON, CON, 5269).srv("xmpps-server", CON, CON, 5270)
    dns.srv("xmpp-server", FAB, FAB, 5269)
    dns.apply()
    partner = fab.host
    check(partner.dig("_xmpps-server._tcp." + CON, "SRV") == ["0 5 5270 %s." % CON],
          "dig from the partner namespace does not see the xmpps SRV record")
    check(partner.dig(CON) == [con.ip], "dig A %s" % CON)
    timer.step("case 1: DNS answers in the partner namespace (dig)")
    fab.configure(tls="required", secure_auth=True, dialback=True, insecure_domains=[], cert=certs[FAB])
    con.configure(tls="required", secure_auth=True, dialback=True, insecure_domains=[], cert=certs[CON],
                  direct_tls_port=5270, c2s_tls=True)
    mf, mc = fab.mark(), con.mark()
    fab.restart()
    con.restart()
    timer.step("case 1: both Prosody (re)started")
    exchange(timer, fab, con, "case 1")
    lf, lc = fab.log_since(mf), con.log_since(mc)
    check("Accepting SASL EXTERNAL identity from %s" % FAB in lc, "contoso did not accept SASL EXTERNAL from fabrikam")
    check("Accepting SASL EXTERNAL identity from %s" % CON in lf, "fabrikam did not accept SASL EXTERNAL from contoso")
    check("Initiating dialback" not in lf + lc, "dialback was used although certificates are valid")
    check(re.search(r"New connection FD \d+ \(%s, \d+, %s, 5270\)" % (re.escape(fab.ip), re.escape(con.ip)), lc),
          "fabrikam did not connect to contoso's direct TLS port 5270")
    check(re.search(r"s2sout\S+\s+info\s+Stream encrypted \(TLSv1\.[23]", lf), "fabrikam's outbound stream not TLS")
    check(re.search(r"TLS negotiation started for s2sin", lf), "contoso -> fabrikam did not use STARTTLS")
    timer.step("case 1: logs show SASL EXTERNAL both ways, direct TLS and STARTTLS")


def case_raw_peer(timer, lab, dns, ca, fab, con, certs):
    """Runs on case 1's configuration (contoso: TLS required, secure auth, direct TLS 5270)."""
    partner = fab.host
    # DOCTYPE: XMPP forbids it (RFC 6120 section 11.1); Prosody's parser answers not-well-formed.
    with RawPeer(partner, con.ip, 5269, timeout=5) as peer:
        peer.send("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaa'>]>"
                  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
                  "to='%s' version='1.0'>" % CON)
        err = peer.read_stream_error()
        check(err is not None and err.condition, "DOCTYPE: no stream error (got %r)" % peer.received[-300:])
        check(peer.wait_closed(5), "DOCTYPE: connection not closed")
        print("      DOCTYPE -> <%s/>" % err.condition)
    # A domain contoso does not serve.
    with RawPeer(partner, con.ip, 5269, timeout=5) as peer:
        peer.send_header(to="nothosted.example", from_=FAB)
        err = peer.read_stream_error()
        check(err is not None and err.condition == "host-unknown", "to=nothosted: expected host-unknown, got %r" % err)
        check(peer.wait_closed(5), "host-unknown: connection not closed")
        print("      to=nothosted.example -> <%s/> %r" % (err.condition, err.text))
    timer.step("case 2: DOCTYPE and host-unknown stream errors")
    # from= a domain nobody knows: Prosody answers the header, drops stanzas before auth,
    # and refuses the stream once TLS shows the certificate does not match.
    with login_to(con, "bob", PW) as bob:
        mc = con.mark()
        with RawPeer(partner, con.ip, 5269, timeout=5) as peer:
            peer.send_header(to=CON, from_="unknown.example")
            hdr = peer.read_header()
            check(hdr is not None and hdr.get("from") == CON and hdr.get("id"), "no stream header reply: %r" % hdr)
            feats = peer.read_features()
            check(feats is not None and "<starttls" in feats and "<required" in feats,
                  "features lack required STARTTLS: %r" % feats)
            peer.send("<message from='eve@unknown.example' to='%s' type='chat'><body>unauth</body></message>"
                      % con.jid("bob"))
            check(bob.wait_message(T_SILENCE) is None, "stanza before authentication was delivered")
            check("Unhandled s2sin_unauthed stanza" in con.log_since(mc), "Prosody did not log the unauthed stanza")
            check(peer.starttls(cert=certs[FAB], cafile=ca.cafile, server_name=CON), "STARTTLS refused")
            peer.send_header(to=CON, from_="unknown.example")
            err = peer.read_stream_error()
            check(err is not None and err.condition == "not-authorized",
                  "from=unknown.example with fabrikam's cert: expected not-authorized, got %r" % err)
            print("      from=unknown.example after STARTTLS -> <%s/> %r" % (err.condition, err.text))
        timer.step("case 2: unknown from: header answered, unauthed stanza dropped, not-authorized after TLS")
        # The raw peer as a well-behaved partner: direct TLS with ALPN, SASL EXTERNAL, one message.
        with RawPeer(partner, con.ip, 5270, timeout=5) as peer:
            peer.tls_handshake(cert=certs[FAB], cafile=ca.cafile, server_name=CON, alpn=["xmpp-server"])
            peer.send_header(to=CON, from_=FAB)
            check(peer.read_header() is not None, "direct TLS: no header")
            feats = peer.read_features()
            check(feats is not None and "<mechanism>EXTERNAL</mechanism>" in feats, "EXTERNAL not offered: %r" % feats)
            peer.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>%s</auth>"
                      % base64.b64encode(FAB.encode()).decode())
            check(peer.read_element("success", timeout=5) is not None,
                  "SASL EXTERNAL failed: %r" % peer.received[-300:])
            peer.send_header(to=CON, from_=FAB)  # RFC 6120 section 6.4.6: restart after SASL
            check(peer.read_header() is not None and peer.read_features() is not None, "no restart after SASL")
            peer.send("<message from='%s' to='%s' type='chat' id='raw1'><body>from a raw peer</body></message>"
                      % (fab.jid("mallory"), con.jid("bob")))
            m = bob.wait_message(T_MSG, from_=fab.jid("mallory"))
            check(m is not None and m["body"] == "from a raw peer", "raw peer's message not delivered")
        timer.step("case 2: raw peer: direct TLS + SASL EXTERNAL, message delivered to a real client")
    check(dialback_key("s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F")
          == "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643", "XEP-0185 vector")


def case_dialback_plain(timer, lab, dns, ca, fab, con, certs):
    dns.clear_srv()
    dns.srv("xmpp-server", CON, CON, 5269).srv("xmpp-server", FAB, FAB, 5269)
    dns.apply()
    fab.configure(tls="off", secure_auth=False, dialback=True, insecure_domains=[CON])
    con.configure(tls="off", secure_auth=False, dialback=True, insecure_domains=[FAB], direct_tls_port=None,
                  c2s_tls=False)
    mf, mc = fab.mark(), con.mark()
    fab.restart()
    con.restart()
    timer.step("case 3: both Prosody restarted (TLS off, dialback)")
    exchange(timer, fab, con, "case 3")
    lf, lc = fab.log_since(mf), con.log_since(mc)
    for name, text in ((FAB, lf), (CON, lc)):
        check("Initiating dialback" in text, "%s did not initiate dialback" % name)
        check("verified dialback key... it is valid" in text, "%s did not verify a dialback key" % name)
        check(not re.search(r"Stream encrypted|TLS negotiation started for s2s|EXTERNAL", text),
              "%s used TLS or SASL on s2s" % name)
    timer.step("case 3: logs show plain-TCP dialback both ways")


def case_wrong_cert(timer, lab, dns, ca, fab, con, certs):
    fab.configure(tls="required", secure_auth=True, dialback=True, insecure_domains=[])
    con.configure(tls="required", secure_auth=True, dialback=True, insecure_domains=[], cert=certs["wrong"])
    mf, mc = fab.mark(), con.mark()
    fab.restart()
    con.restart()
    timer.step("case 4: both Prosody restarted (contoso presents a wrong.example certificate)")
    with login_to(fab, "alice", PW) as alice, login_to(con, "bob", PW) as bob:
        alice.send(con.jid("bob"), "must not arrive 1")
        err = alice.wait_error(T_MSG)
        check(err is not None, "alice got no bounce")
        print("      alice's bounce: <%s/> %r" % (err["condition"], err["text"]))
        bob.send(fab.jid("alice"), "must not arrive 2")
        err = bob.wait_error(T_MSG)
        check(err is not None, "bob got no bounce")
        print("      bob's bounce: <%s/> %r" % (err["condition"], err["text"]))
        check(bob.wait_message(T_SILENCE) is None and alice.wait_message(0.1) is None, "a message was delivered")
    lf = fab.log_since(mf)
    check(re.search(r"Forbidding insecure connection to/from %s because its certificate is not valid for this name"
                    % re.escape(CON), lf), "fabrikam did not log the certificate failure")
    check("Accepting SASL EXTERNAL identity from %s" % CON not in lf, "fabrikam accepted contoso")
    check("Your server's certificate is not valid for this name" in con.log_since(mc),
          "contoso did not log fabrikam's not-authorized stream error")
    timer.step("case 4: nothing delivered, bounces received, certificate failure logged")


def main():
    if os.geteuid() != 0:
        print("selftest: needs root (network namespaces)")
        return 1
    timer = Timer()
    results = []
    print("harness self-test (pid %d)" % os.getpid())
    with Lab() as lab:
        fed = Federation(lab, hosted=CON, partner=FAB, password=PW)
        ca, certs, dns = fed.ca, fed.certs, fed.dns
        timer.step("namespaces %s, %s, dns, bridge; dnsmasq up; test CA and certificates made"
                   % (fed.edge.ns, fed.partner.ns))
        ok, out = ca.verify(certs["expired"])
        check(not ok and "expired" in out, "expired certificate verifies: %s" % out)
        check(not ca.verify(certs["rogue"])[0], "rogue certificate verifies")
        text = TestCA.text(certs[CON])
        check(ca.verify(certs[CON])[0] and "XmppAddr::%s" % CON in text and "SRVName::_xmpp-server.%s" % CON in text,
              "contoso certificate lacks its ids")
        timer.step("certificates checked with openssl (ids present, expired and rogue ones fail)")
        fab = fed.partner_prosody
        con = Prosody(fed.edge, CON, ca=ca, cert=certs[CON])  # stands in for xfed-edge
        con.add_user("bob", PW)
        timer.step("accounts created with prosodyctl")
        cases = [("1 TLS + SASL EXTERNAL both ways (direct TLS one way)", case_tls_external),
                 ("2 raw peer against Prosody", case_raw_peer),
                 ("3 dialback over plain TCP both ways", case_dialback_plain),
                 ("4 wrong-domain certificate refused", case_wrong_cert)]
        for name, fn in cases:
            t0 = time.monotonic()
            print("case %s" % name, flush=True)
            try:
                fn(timer, lab, dns, ca, fab, con, certs)
                results.append((name, "PASS", time.monotonic() - t0, ""))
            except Exception as exc:  # report every case, then fail
                traceback.print_exc()
                results.append((name, "FAIL", time.monotonic() - t0, str(exc)))
                for p in (fab, con):
                    print("--- %s prosody.log (last 40 lines) ---" % p.domain)
                    print("\n".join(p.log_text().splitlines()[-40:]))
    total = time.monotonic() - timer.t0
    print("\nresults:")
    for name, verdict, secs, why in results:
        print("  %-4s %6.2fs  case %s%s" % (verdict, secs, name, ("  -- " + why) if why else ""))
    print("  total %.2fs (including clean-up)" % total)
    leftovers = [n for n in os.listdir("/run/netns") if n.startswith("xf%d-" % os.getpid())] \
        if os.path.isdir("/run/netns") else []
    if leftovers:
        print("  FAIL namespaces left behind: %s" % leftovers)
        return 1
    return 0 if results and all(r[1] == "PASS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
