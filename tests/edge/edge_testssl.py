#!/usr/bin/python3
"""Debian's testssl.sh against xfed-edge: STARTTLS on 5269 and direct TLS on
5270 (XEP-0368). Debian 12's testssl 3.0.8 knows only `--starttls xmpp`
(client streams, jabber:client, which an s2s port rightly refuses), so port
5269 is scanned through a small relay that opens an s2s stream as
fabrikam.example, sends <starttls/>, waits for <proceed/> and from then on
passes bytes through: testssl sees the TLS layer that STARTTLS starts. Fails on any protocol below
TLS 1.2 offered, on TLS 1.2 missing, on any weak cipher category offered
(NULL, anonymous, EXPORT, LOW, 3DES/IDEA, AVERAGE), and on any finding
testssl rates MEDIUM, HIGH or CRITICAL.
"""

import json
import os
import re
import shutil
import socket
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab  # noqa: E402
from edgelab import EdgeUnderTest, check, partner  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
WEAK = ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
        "cipherlist_3DES_IDEA", "cipherlist_AVERAGE")
OLD = ("SSLv2", "SSLv3", "TLS1", "TLS1_1")


def starttls_relay(fed, listen_port):
    """A relay in the partner namespace: testssl -> (s2s STARTTLS) -> edge:5269."""
    from harness.netns import in_netns

    def mk():
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", listen_port))
        ls.listen(64)
        return ls
    ls = in_netns(fed.partner.ns, mk)

    def pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle(c):
        try:
            e = fed.partner.connect(fed.edge.ip, 5269, timeout=10)
            e.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                       "xmlns:stream='http://etherx.jabber.org/streams' to='%s' from='%s' "
                       "version='1.0'>" % (HOSTED, PARTNER)).encode())
            buf = b""
            while b"</stream:features>" not in buf:
                d = e.recv(4096)
                if not d:
                    raise OSError("closed")
                buf += d
            e.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            buf = b""
            while not re.search(rb"<proceed[^>]*/>", buf):
                d = e.recv(4096)
                if not d:
                    raise OSError("closed")
                buf += d
            e.settimeout(None)
            c.settimeout(None)
        except OSError:
            c.close()
            return
        threading.Thread(target=pump, args=(c, e), daemon=True).start()
        threading.Thread(target=pump, args=(e, c), daemon=True).start()

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return ls


def scan(fed, lab, port, starttls):
    out = lab.path("testssl-%d.json" % port)
    cmd = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--jsonfile", out,
           "-p", "-s", "-f"]
    if starttls:
        relay = starttls_relay(fed, 15269)
        cmd.append("127.0.0.1:15269")
    else:
        relay = None
        cmd.append("%s:%d" % (fed.edge.ip, port))
    r = fed.partner.run(cmd, timeout=400, check=False)
    if relay:
        relay.close()
    check(os.path.exists(out), "testssl wrote its findings for port %d" % port, r.stdout[-3000:], r.stderr[-2000:])
    with open(out) as f:
        findings = json.load(f)
    by_id = {}
    for x in findings:
        by_id.setdefault(x.get("id"), []).append(x)
    return findings, by_id, r.stdout


def judge(port, findings, by_id, text):
    for pid in OLD:
        f = by_id.get(pid, [{}])[0].get("finding", "")
        check("not offered" in f, "port %d: %s not offered (%s)" % (port, pid, f), text[-4000:])
    f12 = by_id.get("TLS1_2", [{}])[0].get("finding", "")
    check(f12.startswith("offered"), "port %d: TLS 1.2 offered (%s)" % (port, f12), text[-4000:])
    f13 = by_id.get("TLS1_3", [{}])[0].get("finding", "")
    print("port %d: TLS 1.3: %s" % (port, f13))
    for cid in WEAK:
        f = by_id.get(cid, [{}])[0].get("finding", "")
        check("not offered" in f, "port %d: %s not offered (%s)" % (port, cid, f), text[-4000:])
    pfs = by_id.get("PFS", [{}])[0].get("finding", "")
    check(pfs == "offered", "port %d: forward secrecy offered (%s)" % (port, pfs))
    bad = [x for x in findings if x.get("severity") in ("MEDIUM", "HIGH", "CRITICAL")]
    check(not bad, "port %d: no finding rated MEDIUM or worse" % port, json.dumps(bad, indent=1))


def main():
    if shutil.which("testssl") is None:
        print("testssl (Debian package testssl.sh) is not installed")
        return 1
    with Lab() as lab:
        fed = Federation(lab, hosted=HOSTED, partner=PARTNER)
        edge = EdgeUnderTest(fed, [partner(PARTNER)]).start()
        for port, starttls in ((5269, True), (5270, False)):
            findings, by_id, text = scan(fed, lab, port, starttls)
            judge(port, findings, by_id, text)
        check(edge.alive(), "the edge survived the scans")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
