"""A raw-socket XMPP server-to-server peer for adversarial tests.

It speaks exactly the bytes a test gives it, so a test can misbehave on
purpose (DOCTYPE, bad UTF-8, a header with a spoofed from, one byte per
second, a stanza before authentication, ...) and then check what came back.

    with RawPeer(partner, edge.ip, 5269, timeout=10) as peer:    # TCP from partner's namespace
        peer.send_header(to="contoso.example", from_="fabrikam.example")
        hdr = peer.read_header()                 # dict of the reply header's attributes
        feats = peer.read_features()             # '<stream:features>...</stream:features>'
        peer.starttls(cert=ca.issue("fabrikam.example"), cafile=ca.cafile,
                      server_name="contoso.example")   # <starttls/>, <proceed/>, TLS handshake
        peer.send_header(...); peer.read_header(); peer.read_features()
        peer.send("<message from='x@evil.example' to='y@contoso.example'><body>hi</body></message>")
        err = peer.read_stream_error()           # StreamError(condition='not-authorized', text=...)
        assert peer.wait_closed(5)

Every read has a bounded timeout (the constructor's default or the call's
own); on timeout reads return None rather than raising, so a test asserts on
the value. All received bytes are kept in peer.received (bytes) for
diagnostics. host may be None to use the caller's own namespace (e.g. the
loopback in a unit-level test).
"""

import hashlib
import hmac
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET

NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAMS_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_DIALBACK = "jabber:server:dialback"


class StreamError:
    """A <stream:error/> received from the peer (RFC 6120 section 4.9)."""

    def __init__(self, condition, text, raw):
        self.condition = condition  # e.g. "not-authorized", or None if none was found
        self.text = text  # the <text/> content or None
        self.raw = raw  # the error element as received

    def __repr__(self):
        return "StreamError(condition=%r, text=%r)" % (self.condition, self.text)


def parse_stream_error(fragment):
    """Parse a '<stream:error>...</stream:error>' fragment into a StreamError."""
    wrapped = "<w xmlns:stream='%s'>%s</w>" % (NS_STREAM, fragment)
    try:
        root = ET.fromstring(wrapped)
    except ET.ParseError:
        m = re.search(r"<([A-Za-z-]+)\s+xmlns=['\"]%s['\"]" % re.escape(NS_STREAMS_ERR), fragment)
        return StreamError(m.group(1) if m and m.group(1) != "text" else None, None, fragment)
    cond, text = None, None
    for err in root:
        for child in err:
            if child.tag == "{%s}text" % NS_STREAMS_ERR:
                text = child.text
            elif child.tag.startswith("{%s}" % NS_STREAMS_ERR) and cond is None:
                cond = child.tag.split("}", 1)[1]
    return StreamError(cond, text, fragment)


def dialback_key(secret, receiving, originating, stream_id):
    """XEP-0185 section 3: HMAC-SHA256(hex(SHA256(secret)), 'receiving originating id'), hex."""
    k = hashlib.sha256(secret.encode()).hexdigest().encode()
    return hmac.new(k, ("%s %s %s" % (receiving, originating, stream_id)).encode(), hashlib.sha256).hexdigest()


def stream_header(to=None, from_=None, version="1.0", xmlns="jabber:server", dialback=True, lang="en",
                  stream_id=None, extra=""):
    """The opening <stream:stream ...> tag (RFC 6120 section 4.7) with the given attributes.

    Pass None to omit an attribute; extra is appended verbatim inside the tag.
    """
    attrs = ["xmlns:stream='%s'" % NS_STREAM]
    if xmlns is not None:
        attrs.append("xmlns='%s'" % xmlns)
    if dialback:
        attrs.append("xmlns:db='%s'" % NS_DIALBACK)
    for name, val in (("to", to), ("from", from_), ("version", version), ("xml:lang", lang), ("id", stream_id)):
        if val is not None:
            attrs.append("%s='%s'" % (name, val))
    if extra:
        attrs.append(extra)
    return "<?xml version='1.0'?><stream:stream %s>" % " ".join(attrs)


class RawPeer:
    """One TCP (optionally TLS) connection to an XMPP s2s port; every read bounded."""

    def __init__(self, host, ip, port, timeout=10.0, connect=True):
        """host: netns.Host to connect from (None: this process's namespace)."""
        self.host = host
        self.ip = ip
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.tls = False
        self.received = b""  # everything received, all layers (plaintext after TLS)
        self._buf = b""  # received but not yet consumed by a read_* call
        self.closed = False  # the peer closed (EOF or reset)
        if connect:
            self.connect()

    # -- connection --------------------------------------------------------
    def connect(self):
        if self.host is not None:
            self.sock = self.host.connect(self.ip, self.port, timeout=self.timeout)
        else:
            self.sock = socket.create_connection((self.ip, self.port), timeout=self.timeout)
        self.sock.settimeout(self.timeout)
        return self

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- sending -----------------------------------------------------------
    def send(self, data, chunk=None, delay=0.0, max_time=None):
        """Send bytes (str is UTF-8 encoded; use bytes for invalid UTF-8).

        With chunk=n and delay=s, send n bytes then sleep s seconds, and so on
        (pacing); max_time bounds the whole call. Stops early when the peer
        closes the connection (self.closed becomes True). Returns the number
        of bytes sent.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        if chunk is None:
            chunk = len(data) or 1
        sent = 0
        t0 = time.monotonic()
        try:
            while sent < len(data):
                piece = data[sent:sent + chunk]
                self.sock.sendall(piece)
                sent += len(piece)
                if delay and sent < len(data):
                    if max_time is not None and time.monotonic() - t0 + delay > max_time:
                        break
                    if self._peer_closed_within(delay):
                        break
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError):
            self.closed = True
        return sent

    def _peer_closed_within(self, seconds):
        """Sleep up to seconds while collecting input; True if the peer closed meanwhile."""
        deadline = time.monotonic() + seconds
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._recv_some(min(left, 0.5))
        return True

    def send_header(self, to=None, from_=None, **kw):
        """Send a stream header (see stream_header() for keywords)."""
        return self.send(stream_header(to=to, from_=from_, **kw))

    # -- receiving ---------------------------------------------------------
    def _recv_some(self, timeout):
        """One recv with timeout; returns bytes got (b'' on timeout or EOF)."""
        if self.closed or self.sock is None:
            return b""
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return b""
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            self.closed = True
            return b""
        if not data:
            self.closed = True
            return b""
        self.received += data
        self._buf += data
        return data

    def read_until(self, pattern, timeout=None):
        """Wait until regex pattern (str or bytes; matched against the raw bytes)
        matches unconsumed input.

        Returns the re.Match (its groups are bytes) and consumes input up to its
        end, or None on timeout / EOF without a match.
        """
        timeout = self.timeout if timeout is None else timeout
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self._buf)
            if m:
                self._buf = self._buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self._recv_some(left)

    def read_all(self, timeout=1.0):
        """Collect input for up to timeout seconds (or until EOF); return and consume it."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._recv_some(deadline - time.monotonic())
        data, self._buf = self._buf, b""
        return data

    def read_header(self, timeout=None):
        """Wait for the peer's <stream:stream ...> tag; dict of its attributes or None."""
        m = self.read_until(r"<stream:stream\b([^>]*)>", timeout)
        if not m:
            return None
        attrs = m.group(1).decode("utf-8", "replace")
        return dict((a, v) for a, _, v in re.findall(r"([\w:.-]+)\s*=\s*(['\"])(.*?)\2", attrs))

    def read_features(self, timeout=None):
        """Wait for <stream:features>...</stream:features> (or the empty form); its text or None."""
        m = self.read_until(r"<stream:features\s*/>|<stream:features\b.*?</stream:features>", timeout)
        return m.group(0).decode("utf-8", "replace") if m else None

    def read_element(self, name, timeout=None):
        """Wait for an element <name .../> or <name ...>...</name> (name may carry a prefix); text or None."""
        n = re.escape(name)
        m = self.read_until(r"<%s\b[^>]*/>|<%s\b.*?</%s>" % (n, n, n), timeout)
        return m.group(0).decode("utf-8", "replace") if m else None

    def read_stream_error(self, timeout=None):
        """Wait for a <stream:error>; returns StreamError, or None if the peer closed
        (or the time ran out) without sending one."""
        m = self.read_until(r"<stream:error\s*/>|<stream:error\b.*?</stream:error>", timeout)
        if not m:
            return None
        return parse_stream_error(m.group(0).decode("utf-8", "replace"))

    def wait_closed(self, timeout=None):
        """True once the peer has closed the TCP connection (EOF/reset) within timeout."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._recv_some(left)
        return True

    # -- TLS ---------------------------------------------------------------
    def tls_handshake(self, cert=None, cafile=None, server_name=None, alpn=None, min_version=None):
        """Wrap the socket in TLS as a client (for STARTTLS after <proceed/> or direct TLS).

        cert: harness.ca.Cert to present (or None); cafile: verify the server
        against it (and its name against server_name), or no verification if
        None; alpn: list like ["xmpp-server"]. Returns the SSLSocket; raises
        ssl.SSLError if the handshake fails.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if min_version is not None:
            ctx.minimum_version = min_version
        if cafile:
            ctx.load_verify_locations(cafile=cafile)
            ctx.check_hostname = server_name is not None
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cert is not None:
            ctx.load_cert_chain(cert.cert, cert.key)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_name)
        self.tls = True
        self._buf = b""
        return self.sock

    def starttls(self, cert=None, cafile=None, server_name=None, alpn=None, timeout=None):
        """Send <starttls/>, wait for <proceed/> and do the handshake (RFC 6120 section 5.4).

        Returns True on success, False if the peer answered <failure/>, closed
        or said nothing in time (then nothing is wrapped)."""
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        m = self.read_until(r"<proceed\b[^>]*?(/>|>\s*</proceed>)|<failure\b[^>]*?(/>|>.*?</failure>)", timeout)
        if not m or not m.group(0).startswith(b"<proceed"):
            return False
        self.tls_handshake(cert=cert, cafile=cafile, server_name=server_name, alpn=alpn)
        return True

    def peer_certificate(self):
        """The server's certificate (DER bytes) after TLS, else None."""
        if not self.tls:
            return None
        return self.sock.getpeercert(binary_form=True)


def open_idle_connections(host, ip, port, count, timeout=5.0):
    """Open count TCP connections that never send anything; returns the sockets.

    The caller closes them (close_all()). Stops early (returning what it has)
    if a connect fails, e.g. because the server refuses further connections.
    """
    socks = []
    for _ in range(count):
        try:
            socks.append(host.connect(ip, port, timeout=timeout) if host is not None
                         else socket.create_connection((ip, port), timeout=timeout))
        except OSError:
            break
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
