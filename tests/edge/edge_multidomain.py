#!/usr/bin/python3
"""Two hosted domains (contoso.example, northwind.example) on one xfed-edge,
raw peers and raw servers only (no Prosody, so the suite is quick):

Per hosted domain certificates (domain_cert_dir, DOMAIN.crt/DOMAIN.key):
  - `-n` refuses a certificate that does not cover its domain, a missing key
    and a key of another certificate, each with a clear message;
  - inbound STARTTLS and direct TLS (5270, ALPN): the certificate presented
    is the one of the SNI's domain (verified by the client against the test
    CA and the name), the default one without SNI; SASL EXTERNAL succeeds
    for either domain;
  - outbound: the edge presents northwind's certificate as client on a
    stream from northwind.example (checked by a raw receiving server);
  - a configuration push adding a hosted domain whose certificate file is
    for another name is refused (the edge keeps serving); a hosted domain
    with no certificate of its own that cert_file does not cover is a
    warning of `-n`.

Dialback with several domain pairs on one stream (XEP-0220 section 2.6,
RFC 6120 section 8.1.1.1 addressing per pair), two partner domains
(adatum.example, litware.example, plain TCP dialback, matrix row 17):
  - receiving: one inbound stream authenticates (adatum, contoso), then
    (adatum, northwind) and (litware, contoso) each with its own
    db:result, each verified separately with the authoritative server (a
    raw server the test runs); stanzas of the three pairs arrive at the
    tap; a stanza of the pair (litware, northwind) that was never
    authenticated is refused with invalid-from, and nothing of it arrives;
  - XEP-0344 section 2.4 over TLS (row 15): the peer's certificate for
    tailspin.example stands in for the verify of (tailspin, contoso) (no
    db:verify sent, even a made-up key accepted); on the same stream a
    sender it does not name (fourthcoffee.example) is verified with the
    authoritative server, a wrong key for it answered invalid;
  - authoritative: one stream carries db:verify for two pairs; the edge
    answers valid for the keys made with its secret, invalid for a key for
    another pair.
"""

import os
import re
import shutil
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("XFED_SRC", os.path.join(os.path.dirname(__file__), "..", "..")), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Federation, Lab, RawPeer  # noqa: E402
from harness.netns import in_netns  # noqa: E402
from harness.raw_peer import dialback_key, stream_header  # noqa: E402
from edgelab import EdgeUnderTest, check, conf_text, partner, tap_output, wait_tap  # noqa: E402

CONTOSO = "contoso.example"
NORTHWIND = "northwind.example"
PARTNER = "fabrikam.example"   # SASL EXTERNAL partner (TLS Required, SASL Required)
ADATUM = "adatum.example"      # plain TCP dialback partners (row 17)
LITWARE = "litware.example"
WINGTIP = "wingtip.example"    # hosted domain added by a configuration push
TAILSPIN = "tailspin.example"  # dialback over TLS partners (row 15)
FOURTH = "fourthcoffee.example"
OUT_PORT = 5299                # raw receiving server for outbound fabrikam.example
AUTH_PORT = 5298               # raw authoritative server for adatum and litware
AUTH_SECRET = "authoritative-secret-of-the-raw-server"

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"


def san_dns(peercert):
    return sorted(v for k, v in peercert.get("subjectAltName", ()) if k == "DNS")


def listener(fed, port):
    def body():
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((fed.partner.ip, port))
        ls.listen(16)
        return ls
    ls = in_netns(fed.partner.ns, body)
    ls.settimeout(1.0)
    return ls


def serve(ls, stop, handle):
    """Accepts connections on ls until stop is set, each to handle(conn) in
    its own thread; returns the accepting thread."""
    def loop():
        try:
            while not stop.is_set():
                try:
                    c, _ = ls.accept()
                except socket.timeout:
                    continue
                threading.Thread(target=handle, args=(c,), daemon=True).start()
        finally:
            ls.close()
    th = threading.Thread(target=loop, daemon=True)
    th.start()
    return th


def recv_some(c):
    """One recv: bytes (b"" on the socket's timeout), None once closed."""
    try:
        return c.recv(65536) or None
    except socket.timeout:
        return b""
    except OSError:
        return None


def recv_until(c, data, rx, timeout=10):
    deadline = time.monotonic() + timeout
    while not re.search(rx, data, re.S) and time.monotonic() < deadline:
        d = recv_some(c)
        if d is None:
            break
        data += d
    return data


def header_reply(c, from_, sid, features):
    c.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
               "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
               "id='%s' from='%s' version='1.0'><stream:features>%s</stream:features>"
               % (sid, from_, features)).encode())


def client_cert_server(fed, box, stop):
    """Receiving server for fabrikam.example on OUT_PORT: offers STARTTLS,
    records the certificate the edge presents as client, then closes."""
    ls = listener(fed, OUT_PORT)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert = fed.certs[PARTNER]
    ctx.load_cert_chain(cert.chain, cert.key)
    ctx.load_verify_locations(cafile=fed.ca.cafile)
    ctx.verify_mode = ssl.CERT_OPTIONAL

    def conn(c):
        c.settimeout(10)
        try:
            data = recv_until(c, b"", rb"<stream:stream\b[^>]*>")
            header_reply(c, PARTNER, "out1", "<starttls xmlns='%s'><required/></starttls>" % NS_TLS)
            data = recv_until(c, data, rb"<starttls\b")
            c.sendall(("<proceed xmlns='%s'/>" % NS_TLS).encode())
            t = ctx.wrap_socket(c, server_side=True)
            box.append((san_dns(t.getpeercert() or {}), data.decode("utf-8", "replace")))
            t.close()
        except (OSError, ssl.SSLError) as e:
            box.append(([], "error: %r" % e))
            c.close()
    return serve(ls, stop, conn)


def authoritative_server(fed, log, stop):
    """Authoritative server for adatum.example and litware.example on
    AUTH_PORT (plain TCP, dialback): answers <db:verify/> valid when the key
    is dialback_key(AUTH_SECRET, to, from, id), invalid otherwise, and the
    edge's own <db:result/> valid. log gets (from, to, id, type) per verify."""
    ls = listener(fed, AUTH_PORT)

    def conn(c):
        c.settimeout(1.0)
        data = recv_until(c, b"", rb"<stream:stream\b[^>]*>")
        m = re.search(rb"<stream:stream\b[^>]*\bto=['\"]([^'\"]+)", data)
        me = m.group(1).decode() if m else ADATUM
        header_reply(c, me, "auth-%d" % time.monotonic_ns(),
                     "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>")
        data = data[data.index(b">", data.index(b"<stream:stream")) + 1:]
        while not stop.is_set():
            m = re.search(rb"<db:(verify|result)\b([^>]*)>([^<]*)</db:\1>", data)
            if not m:
                d = recv_some(c)
                if d is None:
                    break
                data += d
                continue
            data = data[m.end():]
            attrs = dict(re.findall(r"([\w:]+)=['\"]([^'\"]*)['\"]", m.group(2).decode()))
            key = m.group(3).decode().strip()
            f, t = attrs.get("from", ""), attrs.get("to", "")
            if m.group(1) == b"verify":
                ok = key == dialback_key(AUTH_SECRET, f, t, attrs.get("id", ""))
                typ = "valid" if ok else "invalid"
                log.append((f, t, attrs.get("id", ""), typ))
                c.sendall(("<db:verify from='%s' to='%s' id='%s' type='%s'/>"
                           % (t, f, attrs.get("id", ""), typ)).encode())
            else:
                c.sendall(("<db:result from='%s' to='%s' type='valid'/>" % (t, f)).encode())
        c.close()

    return serve(ls, stop, conn)


def write_domain_cert(d, cert, key, domain=NORTHWIND):
    shutil.copyfile(cert, os.path.join(d, domain + ".crt"))
    if key is None:
        os.unlink(os.path.join(d, domain + ".key"))
    else:
        shutil.copyfile(key, os.path.join(d, domain + ".key"))
        os.chmod(os.path.join(d, domain + ".key"), 0o600)


def check_conf_errors(edge, certdir, fed, northwind):
    write_domain_cert(certdir, fed.certs["wrong"].chain, fed.certs["wrong"].key)
    rc, out = edge.check_conf()
    check(rc == 1 and "does not cover hosted domain %s" % NORTHWIND in out,
          "-n refuses a domain certificate for another name", out)
    write_domain_cert(certdir, northwind.chain, fed.certs[CONTOSO].key)
    rc, out = edge.check_conf()
    check(rc == 1 and "does not match certificate" in out,
          "-n refuses a key that does not match the domain certificate", out)
    write_domain_cert(certdir, northwind.chain, None)
    rc, out = edge.check_conf()
    check(rc == 1 and "cannot read private key" in out and NORTHWIND + ".key" in out,
          "-n refuses a domain certificate without its key", out)
    write_domain_cert(certdir, northwind.chain, northwind.key)
    rc, out = edge.check_conf()
    check(rc == 0 and "certificates: 1 hosted domain(s) with their own" in out,
          "-n accepts the good files", out)


def tls_sasl(fed, sni, to, direct=False):
    """A raw fabrikam.example peer: TLS with SNI sni (None: no SNI), then
    SASL EXTERNAL towards to. Returns the server certificate's DNS-IDs."""
    p = RawPeer(fed.partner, fed.edge.ip, 5270 if direct else 5269, timeout=15)
    try:
        if direct:
            p.tls_handshake(cert=fed.certs[PARTNER], cafile=fed.ca.cafile, server_name=sni,
                            alpn=["xmpp-server"])
        else:
            p.send_header(to=to, from_=PARTNER)
            p.read_header()
            p.read_features()
            check(p.starttls(cert=fed.certs[PARTNER], cafile=fed.ca.cafile, server_name=sni),
                  "STARTTLS with SNI %s" % sni)
        # With cafile and a server_name the handshake itself verified the
        # chain and the name; getpeercert() is filled because of cafile.
        names = san_dns(p.sock.getpeercert() or {})
        p.send_header(to=to, from_=PARTNER)
        p.read_header()
        f = p.read_features()
        check(f is not None and "EXTERNAL" in f, "EXTERNAL offered for %s (SNI %s)" % (to, sni), f)
        p.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
        check(p.read_until(r"<success\b") is not None,
              "SASL EXTERNAL succeeds towards %s (SNI %s, %s)" % (to, sni, "direct TLS" if direct else "STARTTLS"),
              p.received[-1500:])
    finally:
        p.close()
    return names


def dialback_pair(p, sid, frm, to, log):
    p.send("<db:result from='%s' to='%s'>%s</db:result>" % (frm, to, dialback_key(AUTH_SECRET, to, frm, sid)))
    m = p.read_until(r"<db:result\b[^>]*from=['\"]%s['\"][^>]*to=['\"]%s['\"][^>]*type=['\"](\w+)['\"]|"
                     r"<db:result\b[^>]*type=['\"](\w+)['\"][^>]*" % (re.escape(to), re.escape(frm)),
                     timeout=20)
    got = m and (m.group(1) or m.group(2))
    check(got == b"valid", "dialback pair (%s, %s) valid on the shared stream" % (frm, to),
          p.received[-2000:], repr(log))
    check(any(v[0] == to and v[1] == frm and v[2] == sid and v[3] == "valid" for v in log),
          "(%s, %s) was verified with the authoritative server for this stream id" % (frm, to), repr(log))


def main():
    with Lab() as lab:
        fed = Federation(lab, hosted=CONTOSO, partner=PARTNER)
        fed.dns.a(NORTHWIND, fed.edge.ip).a(ADATUM, fed.partner.ip).a(LITWARE, fed.partner.ip).apply()
        northwind = fed.ca.issue(NORTHWIND)
        tailspin = fed.ca.issue(TAILSPIN)
        partners = [
            partner(PARTNER, tls="Required", sasl="Required", dialback=False,
                    proxy="%s:%d" % (fed.partner.ip, OUT_PORT)),
            partner(ADATUM, tls="NotSupported", sasl="NotSupported", dialback=True,
                    proxy="%s:%d" % (fed.partner.ip, AUTH_PORT)),
            partner(LITWARE, tls="NotSupported", sasl="NotSupported", dialback=True,
                    proxy="%s:%d" % (fed.partner.ip, AUTH_PORT)),
            partner(TAILSPIN, tls="Optional", sasl="NotSupported", dialback=True,
                    proxy="%s:%d" % (fed.partner.ip, AUTH_PORT)),
            partner(FOURTH, tls="Optional", sasl="NotSupported", dialback=True,
                    proxy="%s:%d" % (fed.partner.ip, AUTH_PORT)),
        ]
        edge = EdgeUnderTest(fed, partners, hosted=[CONTOSO, NORTHWIND])
        certdir = os.path.join(edge.dir, "certs")
        os.makedirs(certdir, exist_ok=True)
        check_conf_errors(edge, certdir, fed, northwind)
        edge.start()
        check(edge.alive(), "edge started with two hosted domains")

        # Inbound: the certificate follows SNI, SASL EXTERNAL for both domains.
        for sni, to, direct, want in ((NORTHWIND, NORTHWIND, False, [NORTHWIND]),
                                      (CONTOSO, CONTOSO, False, [CONTOSO]),
                                      (NORTHWIND, NORTHWIND, True, [NORTHWIND]),
                                      (CONTOSO, CONTOSO, True, [CONTOSO]),
                                      (None, CONTOSO, False, [CONTOSO])):
            names = tls_sasl(fed, sni, to, direct)
            check(names == want, "%s, SNI %s: the edge presents the certificate of %s (%s)"
                  % ("direct TLS" if direct else "STARTTLS", sni, want[0], names))

        # Outbound: the client certificate of the 'from' domain.
        stop = threading.Event()
        seen = []
        srv = client_cert_server(fed, seen, stop)
        for local in (NORTHWIND, CONTOSO):
            n = len(seen)
            edge.inject(local, PARTNER, "<message xmlns='jabber:server' from='bob@%s' to='carol@%s'>"
                        "<body>out</body></message>" % (local, PARTNER), timeout=15)
            check(len(seen) > n and seen[n][0] == [local],
                  "outbound from %s: the edge presents %s's certificate as client" % (local, local),
                  repr(seen))

        # Dialback, receiving role, three pairs on one stream.
        log = []
        auth = authoritative_server(fed, log, stop)
        tap = edge.tap(timeout=120)
        p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
        p.send(stream_header(to=CONTOSO, from_=ADATUM))
        h = p.read_header()
        f = p.read_features()
        check(h is not None and h.get("id") and f is not None and "dialback" in f,
              "row 17 stream: dialback offered", p.received)
        sid = h["id"]
        dialback_pair(p, sid, ADATUM, CONTOSO, log)
        dialback_pair(p, sid, ADATUM, NORTHWIND, log)
        dialback_pair(p, sid, LITWARE, CONTOSO, log)
        for frm, to in ((ADATUM, CONTOSO), (ADATUM, NORTHWIND), (LITWARE, CONTOSO)):
            body = "pair %s %s" % (frm, to)
            p.send("<message from='u@%s' to='bob@%s'><body>%s</body></message>" % (frm, to, body))
            check(wait_tap(tap, body), "a stanza of the authenticated pair (%s, %s) arrives" % (frm, to),
                  tap_output(tap)[-2000:])
        p.send("<message from='u@%s' to='bob@%s'><body>never authenticated</body></message>" % (LITWARE, NORTHWIND))
        err = p.read_stream_error(timeout=15)
        check(err is not None and err.condition == "invalid-from",
              "a stanza of the pair (litware, northwind), not authenticated, is refused with invalid-from",
              repr(err), p.received[-1500:])
        time.sleep(1)
        check("never authenticated" not in tap_output(tap), "nothing of it reached the tap")
        p.close()

        # XEP-0344 section 2.4 on one TLS stream (row 15): tailspin's own
        # certificate stands in for the verify (even a key nobody made is
        # accepted, no db:verify reaches the authoritative server); a second
        # sender the certificate does not name is verified as usual, and a
        # wrong key for it is invalid.
        p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
        p.send(stream_header(to=CONTOSO, from_=TAILSPIN))
        p.read_header()
        p.read_features()
        check(p.starttls(cert=tailspin, cafile=fed.ca.cafile), "row 15: STARTTLS")
        p.send(stream_header(to=CONTOSO, from_=TAILSPIN))
        h = p.read_header()
        f = p.read_features()
        check(h is not None and f is not None and "dialback" in f, "row 15 over TLS: dialback offered", f)
        sid = h["id"]
        n_log = len(log)
        p.send("<db:result from='%s' to='%s'>%s</db:result>" % (TAILSPIN, CONTOSO, "0" * 64))
        m = p.read_until(r"<db:result\b[^>]*type=['\"](\w+)['\"]", timeout=15)
        check(m is not None and m.group(1) == b"valid" and len(log) == n_log,
              "a trusted certificate for the sender: valid without a db:verify (XEP-0344 2.4)",
              p.received[-1500:], repr(log))
        check(edge.wait_log(r"role=receiving pair=%s:%s action=trusted-cert" % (CONTOSO, TAILSPIN)),
              "logged as action=trusted-cert")
        dialback_pair(p, sid, FOURTH, CONTOSO, log)
        p.send("<db:result from='%s' to='%s'>%s</db:result>" % (FOURTH, NORTHWIND, "0" * 64))
        m = p.read_until(r"<db:result\b[^>]*type=['\"](\w+)['\"]", timeout=15)
        check(m is not None and m.group(1) == b"invalid" and
              any(v[0] == NORTHWIND and v[1] == FOURTH and v[3] == "invalid" for v in log),
              "a sender the certificate does not name is verified: a wrong key is invalid",
              p.received[-1500:], repr(log))
        p.send("<message from='u@%s' to='bob@%s'><body>tls pair</body></message>" % (TAILSPIN, CONTOSO))
        check(wait_tap(tap, "tls pair"), "a stanza of the trusted pair arrives")
        p.close()

        # Dialback, authoritative role, two pairs on one stream.
        p = RawPeer(fed.partner, fed.edge.ip, 5269, timeout=15)
        p.send(stream_header(to=CONTOSO, from_=ADATUM))
        p.read_header()
        p.read_features()
        cases = ((CONTOSO, ADATUM, "id-one", dialback_key(edge.secret, ADATUM, CONTOSO, "id-one"), "valid"),
                 (NORTHWIND, LITWARE, "id-two", dialback_key(edge.secret, LITWARE, NORTHWIND, "id-two"), "valid"),
                 (NORTHWIND, ADATUM, "id-three", dialback_key(edge.secret, ADATUM, CONTOSO, "id-three"), "invalid"))
        for hosted, other, vid, key, want in cases:
            p.send("<db:verify from='%s' to='%s' id='%s'>%s</db:verify>" % (other, hosted, vid, key))
            m = p.read_until(r"<db:verify\b[^>]*id=['\"]%s['\"][^>]*>" % vid, timeout=15)
            got = m and re.search(rb"type=['\"](\w+)['\"]", m.group(0))
            check(got and got.group(1).decode() == want,
                  "authoritative: verify of (%s, %s) on the shared stream is %s" % (hosted, other, want),
                  p.received[-1500:])
        p.close()

        # A configuration push adding a hosted domain whose certificate in
        # domain_cert_dir is for another name is refused; the edge goes on.
        write_domain_cert(certdir, fed.certs["wrong"].chain, fed.certs["wrong"].key, WINGTIP)
        pushed = lab.path("push.conf")
        with open(pushed, "w") as f:
            f.write(conf_text(2, [CONTOSO, NORTHWIND, WINGTIP], partners, edge.settings))
        rc, out = edge.ipc_client("push", pushed, "2")
        check(rc == 1 and "status=refused" in out and "does not cover hosted domain %s" % WINGTIP in out,
              "a push whose new hosted domain has a certificate for another name is refused", out,
              edge.log_text()[-2000:])
        check(tls_sasl(fed, NORTHWIND, NORTHWIND) == [NORTHWIND],
              "after the refused push, northwind is still served with its certificate")
        # Without files of its own, a domain the default certificate does not
        # cover is only a warning (-n still accepts).
        for ext in (".crt", ".key"):
            os.unlink(os.path.join(certdir, WINGTIP + ext))
        edge.hosted.append(WINGTIP)
        edge.version = 3
        edge.write_conf()
        rc, out = edge.check_conf()
        check(rc == 0 and re.search(r"warning: hosted domain %s has no certificate of its own .*does not "
                                    r"cover hosted domain %s" % (WINGTIP, WINGTIP), out) is not None,
              "-n warns about a hosted domain no certificate covers", out)

        stop.set()
        srv.join(5)
        auth.join(5)
        check(edge.alive(), "the edge is still running")
        edge.proc.signal(15)
        check(edge.proc.wait(10) == 0, "clean stop")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
