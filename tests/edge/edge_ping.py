#!/usr/bin/python3
"""XEP-0288 bidi and XEP-0199 ping on xfed-edge, with a raw peer as
fabrikam.example (SASL EXTERNAL over TLS):

  - the peer enables bidi before authenticating; its ping to contoso.example
    is answered by the edge on the same stream (no new outbound stream);
  - a stanza injected for fabrikam.example goes out on that bidi stream;
  - after inactivity_timeout (30 s, the minimum) of silence the edge probes
    the peer with a ping; a peer that does not answer within ping_timeout is
    closed with connection-timeout;
  - a second peer that answers the probe keeps its stream;
  - a third peer authenticates without bidi and stays silent: the edge sends
    it a whitespace keep-alive after keepalive_interval (20 s) without output
    (RFC 6120 section 4.6.1) and closes it with connection-timeout after
    inactivity_timeout (30 s) without input (an inbound stream is not probed).
"""

import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab, RawPeer  # noqa: E402
from edgelab import EdgeUnderTest, check, partner  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def bidi_peer(fed, bidi=True):
    p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
    p.send_header(to=HOSTED, from_=PARTNER)
    p.read_header()
    f = p.read_features()
    check(f is not None and "urn:xmpp:features:bidi" in f, "bidi offered before TLS", f)
    check(p.starttls(cert=fed.certs[PARTNER], cafile=fed.ca.cafile), "STARTTLS")
    p.send_header(to=HOSTED, from_=PARTNER)
    p.read_header()
    f = p.read_features()
    check(f is not None and "urn:xmpp:features:bidi" in f and "EXTERNAL" in f,
          "bidi and EXTERNAL offered after TLS", f)
    p.send(("<bidi xmlns='urn:xmpp:bidi'/>" if bidi else "")
           + "<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
    check(p.read_until(r"<success\b") is not None, "SASL EXTERNAL success")
    p.send_header(to=HOSTED, from_=PARTNER)
    p.read_header()
    p.read_features()
    return p


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER)
        edge = EdgeUnderTest(fed, [partner(PARTNER, tls="Required", sasl="Required")],
                             settings=dict(inactivity_timeout=30, keepalive_interval=20),
                             local=dict(ping_timeout=3)).start()
        silent = bidi_peer(fed)
        check(edge.wait_log(r"event=bidi outcome=enabled"), "the edge accepted bidi")
        silent.send("<iq type='get' from='%s' to='%s' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
                    % (PARTNER, HOSTED))
        r = silent.read_until(r"<iq[^>]*type=['\"]result['\"][^>]*>|<iq[^>]*id=['\"]p1['\"][^>]*/>", timeout=10)
        check(r is not None and b"p1" in r.group(0), "the ping is answered on the bidi stream",
              silent.received[-1500:])
        check("dir=out" not in edge.log_text(), "no outbound stream was needed")
        rc, out = edge.inject(HOSTED, PARTNER,
                              "<message xmlns='jabber:server' from='bob@%s' to='carol@%s'><body>over bidi</body></message>"
                              % (HOSTED, PARTNER))
        check(rc == 0 and silent.read_until(r"over bidi", timeout=10) is not None,
              "an injected stanza goes out on the bidi stream", out)

        # A second peer that answers probes.
        polite = bidi_peer(fed)
        stop = threading.Event()

        def answer():
            while not stop.is_set():
                m = polite.read_until(r"<iq[^>]*id=['\"](xfed-ping-[0-9-]+)['\"][^>]*>", timeout=1)
                if m:
                    polite.send("<iq type='result' from='%s' to='%s' id='%s'/>"
                                % (PARTNER, HOSTED, m.group(1).decode()))
        t = threading.Thread(target=answer, daemon=True)
        t.start()

        # A third peer, authenticated without bidi, then silent.
        idle = bidi_peer(fed, bidi=False)
        t_idle = time.monotonic()
        check(idle.read_all(timeout=0.5).strip() == b"", "nothing pending after the features")
        m = idle.read_until(r"^[ \t\r\n]+", timeout=30)
        t_ka = time.monotonic() - t_idle
        check(m is not None and 17 <= t_ka <= 26,
              "a whitespace keep-alive arrives after keepalive_interval=20 s of idle output (%.1f s)" % t_ka,
              idle.received[-300:])
        err = idle.read_stream_error(timeout=20)
        t_err = time.monotonic() - t_idle
        check(err is not None and err.condition == "connection-timeout" and 27 <= t_err <= 40,
              "the silent inbound stream is closed with connection-timeout after "
              "inactivity_timeout=30 s (%.1f s)" % t_err, repr(err), idle.received[-300:])
        tail = idle.received.decode("utf-8", "replace").rsplit("</stream:features>", 1)[-1]
        check(re.match(r"^\s+<stream:error", tail) is not None and "<iq" not in tail,
              "only whitespace, then the error, was sent on the idle inbound stream (no probe)", tail)

        t0 = time.monotonic()
        err = silent.read_stream_error(timeout=60)
        elapsed = time.monotonic() - t0
        check(err is not None and err.condition == "connection-timeout",
              "a silent peer that ignores the probe is closed with connection-timeout (%.0f s)" % elapsed,
              repr(err), silent.received[-1500:])
        check(re.search(r"<iq[^>]*type=['\"]get['\"][^>]*>\s*<ping", silent.received.decode("utf-8", "replace"))
              is not None, "the edge probed it with an XEP-0199 ping first")
        check(re.search(r"over bidi</body></message>\s+<iq",
                        silent.received.decode("utf-8", "replace")) is not None,
              "the idle bidi stream got a whitespace keep-alive before the probe",
              silent.received[-1500:])
        time.sleep(5)
        stop.set()
        t.join(5)
        check(not polite.closed, "the peer that answered the probe keeps its stream")
        check(edge.alive(), "the edge is still running")
        polite.close()
        edge.proc.signal(15)
        check(edge.proc.wait(10) == 0, "clean stop")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
