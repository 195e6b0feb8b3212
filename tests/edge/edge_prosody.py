#!/usr/bin/python3
"""xfed-edge against a real Prosody 0.12 (fabrikam.example), both directions,
per partner policy, plus the refusals of issue 3.

    edge_prosody.py SCENARIO      (run as root; ctest passes XFED_BIN, XFED_SRC)

Scenarios that deliver (a message from alice@fabrikam.example reaches
`xfedctl tap` at the edge, and a message injected at the tap reaches alice's
real client):
  sasl            TLS Required + SASL Required: SASL EXTERNAL both ways
  dialback-tls    TLS Required + SASL NotSupported + dialback: dialback over TLS
  dialback-plain  TLS NotSupported + SASL NotSupported + dialback: plain TCP dialback
  tls-optional    TLS Optional (SASL NotSupported, dialback) with a partner offering no TLS
  direct-tls      Prosody reaches the edge with direct TLS on 5270 (XEP-0368), SASL EXTERNAL
Refusals (the expected stream error in the edge's log, nothing at the tap):
  wrong-cert      partner certificate for another domain under SASL Required: not-authorized;
                  then the partner's policy becomes TLS Required + dialback (SIGHUP) and the
                  same certificate gets dialback over TLS with XEP-0344 section 2.6: the
                  verify connection shows the same certificate, so no db:verify is sent
  not-partner     fabrikam.example is not a partner: policy-violation
  dialback-false  dialback from a partner whose dialback is false: policy-violation
  plain-required  plain TCP from a partner whose TLS is Required: policy-violation
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab  # noqa: E402
from edgelab import EdgeUnderTest, check, partner, tap_output  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"


def deliver_both_ways(fed, edge, method_in, method_out, tls_in=True):
    tap = edge.tap(count=1, timeout=40)
    with fed.partner_client() as alice:
        alice.send("bob@%s" % HOSTED, "hello from fabrikam")
        rc = tap.wait(45)
        out = tap_output(tap)
        check(rc == 0 and "hello from fabrikam" in out,
              "inbound message from alice reaches the tap", out, edge.log_text(),
              fed.partner_prosody.log_text())
        check("remote=%s" % PARTNER in out and "local=%s" % HOSTED in out and
              "direction=inbound" in out, "tap sees the authenticated domain pair and direction", out)
        check(edge.wait_log(r"dir=in .*event=auth method=%s outcome=(success|valid)" % method_in),
              "inbound stream authenticated with %s" % method_in)
        if tls_in:
            check(edge.wait_log(r"dir=in .*event=tls tls=TLSv1\.[23]"), "inbound stream used TLS 1.2+")
        xml = ("<message xmlns='jabber:server' from='bob@%s' to='alice@%s/test' type='chat'>"
               "<body>hello from contoso</body></message>" % (HOSTED, PARTNER))
        rc, out = edge.inject(HOSTED, PARTNER, xml)
        check(rc == 0, "injected stanza acknowledged as sent", out, edge.log_text())
        msg = alice.wait_message(timeout=20, body="hello from contoso")
        check(msg is not None, "alice's real client receives the message from the edge",
              edge.log_text(), fed.partner_prosody.log_text())
        check(edge.wait_log(r"dir=out .*event=auth method=%s outcome=(success|valid)" % method_out),
              "outbound stream authenticated with %s" % method_out)


def refused(fed, edge, condition, reason):
    tap = edge.tap(count=1, timeout=25)
    with fed.partner_client() as alice:
        alice.send("bob@%s" % HOSTED, "must not arrive")
        check(edge.wait_log(r"dir=in .*event=stream-error condition=%s .*reason=\"[^\"]*%s"
                            % (condition, reason), timeout=30),
              "edge closes the partner's stream with %s (%s)" % (condition, reason), edge.log_text())
        rc = tap.wait(30)
        out = tap_output(tap)
        check(rc != 0 and "must not arrive" not in out, "nothing reaches the tap", out)
        err = alice.wait_error(timeout=30)
        check(err is not None, "alice gets her message bounced by her own server")
    check(edge.alive(), "the edge keeps running")


def same_cert_dialback(fed, edge):
    """XEP-0344 section 2.6 with the wrong-domain certificate: dialback over
    TLS is allowed now; the edge's verify connection to fabrikam.example
    meets the certificate Prosody showed on its inbound stream."""
    edge.partners = [partner(PARTNER, tls="Required", sasl="NotSupported", dialback=True)]
    edge.version += 1
    edge.write_conf()
    edge.proc.signal(1)
    check(edge.wait_log(r"event=reload .*version=%d" % edge.version, timeout=20),
          "the edge reloaded the partner as TLS Required + dialback", edge.log_text())
    deliver_both_ways(fed, edge, "dialback", "dialback")
    log = edge.log_text()
    check(re.search(r"event=dialback role=receiving action=same-cert pair=%s:%s"
                    % (HOSTED, PARTNER), log) is not None,
          "the authoritative server showed the sender's certificate: answered without db:verify",
          log)
    check(re.search(r"action=verify-sent", log) is None and "action=trusted-cert" not in log,
          "no db:verify sent, and the certificate itself was not trusted (XEP-0344 2.6)", log)


def main(scenario):
    knobs = {}
    pol = partner(PARTNER)
    expect = None
    direct = False
    if scenario == "sasl":
        knobs = dict(tls="required")
    elif scenario == "dialback-tls":
        pol = partner(PARTNER, tls="Required", sasl="NotSupported", dialback=True)
        knobs = dict(tls="required")
    elif scenario == "dialback-plain":
        pol = partner(PARTNER, tls="NotSupported", sasl="NotSupported", dialback=True)
        knobs = dict(tls="off")
    elif scenario == "tls-optional":
        pol = partner(PARTNER, tls="Optional", sasl="NotSupported", dialback=True)
        knobs = dict(tls="off")
    elif scenario == "direct-tls":
        knobs = dict(tls="required")
        direct = True
    elif scenario == "wrong-cert":
        knobs = dict(tls="required")
        expect = ("not-authorized", "certificate does not verify")
    elif scenario == "not-partner":
        pol = partner("litware.example")
        knobs = dict(tls="required")
        expect = ("policy-violation", "not a partner")
    elif scenario == "dialback-false":
        pol = partner(PARTNER, tls="Optional", sasl="Optional", dialback=False)
        knobs = dict(tls="off")
        expect = ("policy-violation", "dialback is disabled")
    elif scenario == "plain-required":
        pol = partner(PARTNER, tls="Required", sasl="NotSupported", dialback=True)
        knobs = dict(tls="off")
        expect = ("policy-violation", "TLS is required")
    else:
        print(__doc__)
        return 2
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, direct_tls=direct, **knobs)
        if scenario == "wrong-cert":
            fed.partner_prosody.configure(cert=fed.certs["wrong"])
        # The SASL scenario also runs the edge as an unprivileged user.
        local = dict(user="nobody") if scenario == "sasl" else None
        edge = EdgeUnderTest(fed, [pol], local=local).start()
        if local:
            with open("/proc/%d/status" % edge.proc.pid) as f:
                uid = [ln.split()[1:] for ln in f if ln.startswith("Uid:")][0]
            check(uid == [str(65534)] * 4, "started as root, the edge runs as nobody (uid %s)" % uid)
        fed.partner_prosody.start()
        if expect:
            refused(fed, edge, *expect)
            if scenario == "wrong-cert":
                same_cert_dialback(fed, edge)
        elif scenario in ("sasl", "direct-tls"):
            deliver_both_ways(fed, edge, "sasl-external", "sasl-external")
            if direct:
                check(edge.wait_log(r"dir=in .*event=tls .*direct=yes"),
                      "the partner came in with direct TLS on 5270")
        elif scenario == "dialback-tls":
            deliver_both_ways(fed, edge, "dialback", "dialback")
            check(edge.wait_log(r"event=dialback role=authoritative .*outcome=valid"),
                  "the edge answered as authoritative server")
            # XEP-0344 section 2.4: Prosody's certificate verifies for
            # fabrikam.example, so its db:result is accepted without a
            # verify round trip to the authoritative server.
            log = edge.log_text()
            check(re.search(r"dir=in .*event=dialback role=receiving pair=%s:%s action=trusted-cert"
                            % (HOSTED, PARTNER), log) is not None and
                  re.search(r"role=receiving .*action=verify(-sent)?\b", log) is None,
                  "dialback with a trusted certificate: no db:verify sent (XEP-0344)", log)
        else:
            deliver_both_ways(fed, edge, "dialback", "dialback", tls_in=False)
            check("event=tls " not in edge.log_text(), "no TLS was used")
            check(edge.wait_log(r"event=dialback role=receiving action=verify-sent pair=%s:%s"
                                % (HOSTED, PARTNER)) and "action=trusted-cert" not in edge.log_text(),
                  "without TLS the key is verified with the authoritative server")
        check(edge.alive(), "the edge is still running")
        edge.proc.signal(15)
        check(edge.proc.wait(10) == 0, "SIGTERM stops the edge with exit code 0", edge.log_text())
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
