#!/usr/bin/env python3
"""A partner's s2s streams into a loopback xfed-edge, for the status tests.

    s2s_partner.py certs DIR DOMAIN...
        makes a test CA in DIR (harness.ca.TestCA) and a certificate for each
        DOMAIN; prints "ca DIR/ca.pem" and "cert DOMAIN CHAIN KEY" lines.
    s2s_partner.py stream --port P --from PARTNER --to HOSTED
                          [--cert PEM --key PEM --cafile CA] [--messages N]
        opens an inbound stream to 127.0.0.1:P. With a certificate it does
        STARTTLS and SASL EXTERNAL (RFC 6120 sections 5 and 6, XEP-0178) and
        sends N messages to user@HOSTED; without one it stops after the
        edge's first stream features (a stream still negotiating). Prints
        "ready ..." when done, keeps the stream open until standard input
        closes, then closes the stream. Exit 1 when a step fails.

Uses the harness's raw peer (tests/harness/raw_peer.py) in this process's
own network namespace; every read is bounded."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import RawPeer, TestCA  # noqa: E402
from harness.raw_peer import NS_SASL  # noqa: E402


class PemCert:
    def __init__(self, cert, key):
        self.cert = cert
        self.key = key


def make_certs(directory, names):
    ca = TestCA(directory, name="xfed status test CA")
    print("ca %s" % ca.cafile)
    for n in names:
        c = ca.issue(n)
        print("cert %s %s %s" % (n, c.chain, c.key))


def open_stream(port, partner, hosted, cert=None, key=None, cafile=None, messages=0,
                timeout=10.0):
    """Returns (peer, description) or raises RuntimeError naming the failed step."""
    peer = RawPeer(None, "127.0.0.1", port, timeout=timeout)
    peer.send_header(to=hosted, from_=partner)
    if peer.read_header() is None or peer.read_features() is None:
        raise RuntimeError("no stream header and features from the edge")
    if cert is None:
        return peer, "auth=none tls=none"
    if not peer.starttls(cert=PemCert(cert, key), cafile=cafile, server_name=hosted):
        raise RuntimeError("STARTTLS refused")
    peer.send_header(to=hosted, from_=partner)
    feats = peer.read_header() and peer.read_features()
    if not feats or "EXTERNAL" not in feats:
        raise RuntimeError("no SASL EXTERNAL offered after TLS: %r" % feats)
    peer.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
    if peer.read_until(r"<success\b", timeout) is None:
        raise RuntimeError("SASL EXTERNAL failed: %r" % peer.received[-300:])
    peer.send_header(to=hosted, from_=partner)
    if peer.read_header() is None or peer.read_features() is None:
        raise RuntimeError("no stream restart after SASL")
    for i in range(messages):
        peer.send("<message from='ann@%s' to='bob@%s' id='m%d' type='chat'>"
                  "<body>status test %d</body></message>" % (partner, hosted, i, i))
    return peer, "auth=sasl-external tls=%s" % peer.sock.version()


def main(argv):
    if len(argv) >= 3 and argv[1] == "certs":
        make_certs(argv[2], argv[3:])
        return 0
    if len(argv) < 2 or argv[1] != "stream":
        print(__doc__, file=sys.stderr)
        return 2
    opts = {"--cert": None, "--key": None, "--cafile": None, "--messages": "0"}
    args = argv[2:]
    for i in range(0, len(args) - 1, 2):
        opts[args[i]] = args[i + 1]
    try:
        peer, what = open_stream(int(opts["--port"]), opts["--from"], opts["--to"],
                                 opts["--cert"], opts["--key"], opts["--cafile"],
                                 int(opts["--messages"]))
    except (RuntimeError, OSError, KeyError) as exc:
        print("failed %s" % exc, flush=True)
        return 1
    print("ready %s" % what, flush=True)
    sys.stdin.read()
    peer.send("</stream:stream>")
    peer.wait_closed(5)
    peer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
