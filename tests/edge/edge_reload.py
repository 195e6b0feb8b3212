#!/usr/bin/python3
"""Reloading xfed-edge's configuration without dropping healthy streams.

  1. fabrikam.example (a real Prosody) and litware.example (a raw peer with a
     certificate for litware.example) both hold authenticated streams;
  2. SIGHUP with litware.example removed: its stream is closed with
     <policy-violation/>, fabrikam's stream stays and keeps carrying stanzas;
  3. SIGHUP with a configuration the negotiation matrix rejects: refused,
     the running configuration stays;
  4. a configuration push over IPC (version 3, litware back as a partner):
     applied, persisted in the configuration directory and reported in the
     statistics; an older version pushed afterwards is refused;
  5. `xfed-edge -n` checks a configuration directory: 0 valid, 1 rejected.
"""

import os
import re
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab, RawPeer, xfed_bin  # noqa: E402
from edgelab import EdgeUnderTest, check, conf_text, partner, tap_output, wait_tap  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
OTHER = "litware.example"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def litware_peer(fed, cert):
    p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
    p.send_header(to=HOSTED, from_=OTHER)
    p.read_header()
    p.read_features()
    check(p.starttls(cert=cert, cafile=fed.ca.cafile), "litware: STARTTLS")
    p.send_header(to=HOSTED, from_=OTHER)
    p.read_header()
    f = p.read_features()
    check(f is not None and "EXTERNAL" in f, "litware: EXTERNAL offered", f)
    p.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
    check(p.read_until(r"<success\b") is not None, "litware: authenticated")
    p.send_header(to=HOSTED, from_=OTHER)
    p.read_header()
    p.read_features()
    return p


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER, tls="required")
        lit_cert = fed.ca.issue(OTHER)
        both = [partner(PARTNER), partner(OTHER)]
        edge = EdgeUnderTest(fed, both).start()
        fed.partner_prosody.start()
        tap = edge.tap(timeout=300)

        with fed.partner_client() as alice:
            alice.send("bob@%s" % HOSTED, "before reload")
            check(wait_tap(tap, "before reload"), "fabrikam's first message arrives", tap_output(tap))
            accepted = edge.log_text().count("event=accepted")
            lit = litware_peer(fed, lit_cert)
            lit.send("<message from='x@%s' to='bob@%s'><body>litware ok</body></message>" % (OTHER, HOSTED))
            check(wait_tap(tap, "litware ok"), "litware's message arrives", tap_output(tap))

            # 2. litware removed
            edge.version = 2
            edge.partners = [partner(PARTNER)]
            edge.write_conf()
            edge.proc.signal(signal.SIGHUP)
            err = lit.read_stream_error(timeout=20)
            check(err is not None and err.condition == "policy-violation",
                  "the removed partner's stream is closed with policy-violation", repr(err))
            check(edge.wait_log(r"event=reload version=2 partners=1 closed_streams=1"),
                  "reload logged with the new version")
            alice.send("bob@%s" % HOSTED, "after reload")
            check(wait_tap(tap, "after reload"), "fabrikam keeps being served after the reload")
            check(edge.log_text().count("event=accepted") == accepted + 1,
                  "fabrikam's stream was kept (no new inbound connection but litware's)",
                  edge.log_text()[-3000:])

            # 3. a rejected configuration is refused, the running one stays
            with open(os.path.join(edge.dir, "xfed.conf"), "w") as f:
                f.write(conf_text(9, [HOSTED], [partner(PARTNER, tls="NotSupported", sasl="Required")]))
            edge.proc.signal(signal.SIGHUP)
            check(edge.wait_log(r"event=reload outcome=refused"), "a rejected configuration is refused")
            alice.send("bob@%s" % HOSTED, "after refused reload")
            check(wait_tap(tap, "after refused reload"), "and the edge goes on serving")
            rc, out = edge.ipc_client("stats")
            check(rc == 0 and "conf_version=2" in out, "statistics report version 2", out)
            check(re.search(r"stream id=\w+ local=%s partner=%s direction=in auth=1 tls=TLSv1\.[23]"
                            % (re.escape(HOSTED), re.escape(PARTNER)), out) is not None,
                  "statistics list fabrikam's inbound SASL EXTERNAL stream over TLS", out)

            # 4. configuration push over IPC
            pushed = lab.path("push.conf")
            with open(pushed, "w") as f:
                f.write(conf_text(3, [HOSTED], both, dict(dialback_secret=edge.secret)))
            rc, out = edge.ipc_client("push", pushed, "3")
            check(rc == 0 and "status=applied" in out, "configuration push version 3 applied", out,
                  edge.log_text()[-3000:])
            with open(os.path.join(edge.dir, "xfed.conf")) as f:
                stored = f.read()
            check("version = 3L" in stored and OTHER in stored,
                  "the pushed configuration is persisted as the last good copy", stored)
            rc, out = edge.ipc_client("stats")
            check("conf_version=3" in out, "statistics report version 3", out)
            lit2 = litware_peer(fed, lit_cert)
            lit2.send("<message from='x@%s' to='bob@%s'><body>litware back</body></message>" % (OTHER, HOSTED))
            check(wait_tap(tap, "litware back"), "litware is a partner again after the push")
            rc, out = edge.ipc_client("push", pushed, "2")
            check(rc == 1 and "status=refused" in out and "older" in out,
                  "an older configuration version is refused", out)
            alice.send("bob@%s" % HOSTED, "after push")
            check(wait_tap(tap, "after push"), "fabrikam still served after the push")
            lit2.close()

        # 5. check mode
        r = edge.host.run([xfed_bin("xfed-edge"), "-n", "-c", edge.dir], check=False)
        check(r.returncode == 0 and "matrix row 1" in r.stdout, "-n accepts the running directory",
              r.stdout + r.stderr)
        with open(os.path.join(edge.dir, "xfed.conf"), "w") as f:
            f.write(conf_text(9, [HOSTED], [partner(PARTNER, tls="NotSupported", sasl="Required")]))
        r = edge.host.run([xfed_bin("xfed-edge"), "-n", "-c", edge.dir], check=False)
        check(r.returncode == 1 and "SASL requires TLS" in (r.stdout + r.stderr),
              "-n rejects a matrix-rejected row with exit 1", r.stdout + r.stderr)
        r = edge.host.run([xfed_bin("xfed-edge"), "-x"], check=False)
        check(r.returncode == 2, "a bad option is a usage error (exit 2)")
        check(edge.alive(), "the edge is still running")
        edge.proc.signal(signal.SIGTERM)
        check(edge.proc.wait(10) == 0, "clean stop")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
