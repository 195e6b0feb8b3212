"""A real XMPP client (Debian's python3-slixmpp) logged in to a lab server.

From a test (the client runs as a subprocess inside the server's namespace,
so it works from any thread and survives a misbehaving server):

    with login_to(prosody, "alice", "secret") as alice:      # bounded login
        alice.send("bob@contoso.example", "hello")
        msg = bob.wait_message(timeout=10)                   # dict or None
        err = alice.wait_error(timeout=5)                     # bounced message, dict or None

or for any server: XmppClient(host, jid, password, server_ip, port=5222,
tls=False|True, cafile=...). Received events are dicts:
  {"event": "message", "from", "to", "type", "id", "body"}
  {"event": "message_error", "from", "to", "id", "condition", "text", "body"}
  {"event": "ready"} / {"event": "failed", "reason"} / {"event": "disconnected"}

As a script (what XmppClient runs; /usr/bin/python3 because Debian's
slixmpp is installed for it), inside a namespace:
  XFED_CLIENT_PASSWORD=secret ip netns exec NS /usr/bin/python3 client.py \
      --jid alice@fabrikam.example --server 10.254.0.11 [--port 5222] \
      [--starttls --cafile ca.pem]
It prints one JSON object per line on stdout and reads commands, one JSON
object per line, on stdin: {"cmd": "send", "to": JID, "body": TEXT,
"type": "chat"}, {"cmd": "raw", "xml": TEXT}, {"cmd": "quit"}.
"""

import json
import os
import queue
import sys
import threading
import time

CLIENT_PY = os.path.abspath(__file__)
PYTHON = "/usr/bin/python3"


# ---------------------------------------------------------------------------
# test-side wrapper
# ---------------------------------------------------------------------------
class XmppClient:
    """A logged-in XMPP client subprocess; every wait is bounded."""

    def __init__(self, host, jid, password, server_ip, port=5222, tls=False, cafile=None, login_timeout=15.0):
        self.host = host
        self.jid = jid
        self.password = password
        self.server_ip = server_ip
        self.port = port
        self.tls = tls
        self.cafile = cafile
        self.login_timeout = login_timeout
        self.proc = None
        self.events = []  # every event received, in order
        self._q = queue.Queue()
        self._pending = []  # events taken from _q but not yet matched by a wait_*
        self._reader = None

    def start(self):
        """Spawn the client and wait (bounded) for login; raises on failure."""
        from .netns import HarnessError

        cmd = [PYTHON, CLIENT_PY, "--jid", self.jid, "--server", self.server_ip, "--port", str(self.port)]
        if self.tls:
            cmd += ["--starttls"]
            if self.cafile:
                cmd += ["--cafile", self.cafile]
        env = dict(os.environ, XFED_CLIENT_PASSWORD=self.password)
        self.proc = self.host.spawn(cmd, name="xmpp-" + self.jid, pipe=True, env=env)
        self._reader = threading.Thread(target=self._read, name="xmpp-reader-" + self.jid, daemon=True)
        self._reader.start()
        ev = self._wait(lambda e: e["event"] in ("ready", "failed", "disconnected", "exit"), self.login_timeout)
        if ev is None or ev["event"] != "ready":
            out = self.proc.output()[-2000:]
            self.close()
            raise HarnessError("client %s did not log in to %s:%d: %r\n%s"
                               % (self.jid, self.server_ip, self.port, ev, out))
        return self

    def _read(self):
        for line in self.proc.popen.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "garbage", "line": line}
            self.events.append(ev)
            self._q.put(ev)
        self._q.put({"event": "exit"})

    def _wait(self, pred, timeout):
        for i, ev in enumerate(self._pending):
            if pred(ev):
                return self._pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                ev = self._q.get(timeout=left)
            except queue.Empty:
                return None
            if pred(ev):
                return ev
            if ev["event"] == "exit":
                self._pending.append(ev)
                return None
            self._pending.append(ev)

    def _cmd(self, obj):
        from .netns import HarnessError

        if self.proc is None or not self.proc.alive():
            raise HarnessError("client %s is not running" % self.jid)
        self.proc.popen.stdin.write(json.dumps(obj) + "\n")
        self.proc.popen.stdin.flush()

    def send(self, to, body, mtype="chat"):
        """Send a message stanza (returns at once)."""
        self._cmd({"cmd": "send", "to": to, "body": body, "type": mtype})

    def send_raw(self, xml):
        """Send raw XML on the c2s stream."""
        self._cmd({"cmd": "raw", "xml": xml})

    def wait_message(self, timeout=10.0, from_=None, body=None):
        """The next non-error message (optionally from bare JID from_ / with this body), or None."""
        def pred(e):
            return (e["event"] == "message" and (from_ is None or e["from"].split("/")[0] == from_)
                    and (body is None or e["body"] == body))
        return self._wait(pred, timeout)

    def wait_error(self, timeout=10.0):
        """The next message of type error (a bounce), or None."""
        return self._wait(lambda e: e["event"] == "message_error", timeout)

    def received(self):
        """All message events seen so far (including errors)."""
        return [e for e in self.events if e["event"] in ("message", "message_error")]

    def close(self):
        """Log out (bounded) and make sure the subprocess is gone."""
        if self.proc is None:
            return
        try:
            if self.proc.alive():
                self._cmd({"cmd": "quit"})
                self.proc.wait(3.0)
        except Exception:  # the process is killed below in any case
            pass
        self.host.lab.forget(self.proc)
        self.proc = None

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def login_to(prosody, user, password, **kw):
    """Start an XmppClient for user@prosody.domain against that Prosody's c2s
    (STARTTLS with the test CA when the instance has c2s_tls); returns it
    logged in. Use as a context manager or call close()."""
    tls = prosody.opts["c2s_tls"]
    c = XmppClient(prosody.host, prosody.jid(user), password, prosody.ip, port=prosody.opts["c2s_port"], tls=tls,
                   cafile=prosody.ca.cafile if (tls and prosody.ca) else None, **kw)
    return c.start()


# ---------------------------------------------------------------------------
# the subprocess
# ---------------------------------------------------------------------------
def _main(argv):
    import argparse
    import asyncio
    import logging

    import slixmpp

    ap = argparse.ArgumentParser(description="xfed test XMPP client (JSON lines on stdin/stdout)")
    ap.add_argument("--jid", required=True)
    ap.add_argument("--server", required=True, help="server IP address")
    ap.add_argument("--port", type=int, default=5222)
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--cafile")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args(argv)
    password = os.environ.get("XFED_CLIENT_PASSWORD", "")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr)

    def emit(**kw):
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()

    class Client(slixmpp.ClientXMPP):
        async def get_dns_records(self, domain, port=None):
            # Always the given address; TLS still checks the certificate for the JID's domain.
            return [(self.boundjid.domain, args.server, args.port)]

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = Client(args.jid, password)
    xmpp.default_domain = xmpp.boundjid.domain
    if args.starttls:
        if args.cafile:
            xmpp.ca_certs = args.cafile
    else:
        xmpp["feature_mechanisms"].unencrypted_plain = True
    done = loop.create_future()

    def finish():
        if not done.done():
            done.set_result(True)

    async def on_start(_event):
        xmpp.send_presence()
        emit(event="ready", jid=str(xmpp.boundjid))

    def on_message(msg):
        if msg["type"] == "error":
            return
        emit(event="message", **{"from": str(msg["from"]), "to": str(msg["to"]), "type": msg["type"],
                                  "id": msg["id"], "body": msg["body"]})

    def on_error(msg):
        emit(event="message_error", **{"from": str(msg["from"]), "to": str(msg["to"]), "id": msg["id"],
                                       "condition": msg["error"]["condition"], "text": msg["error"]["text"],
                                       "body": msg["body"]})

    xmpp.add_event_handler("session_start", on_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("message_error", on_error)
    xmpp.add_event_handler("failed_auth", lambda _e: (emit(event="failed", reason="auth"), finish()))
    xmpp.add_event_handler("connection_failed", lambda e: (emit(event="failed", reason="connect: %s" % e), finish()))
    xmpp.add_event_handler("disconnected", lambda _e: (emit(event="disconnected"), finish()))

    def on_stdin():
        line = sys.stdin.readline()
        if not line:
            xmpp.disconnect(wait=1.0)
            loop.call_later(1.5, finish)
            loop.remove_reader(sys.stdin.fileno())
            return
        try:
            cmd = json.loads(line)
        except ValueError:
            emit(event="bad_command", line=line.strip())
            return
        if cmd.get("cmd") == "send":
            xmpp.send_message(mto=cmd["to"], mbody=cmd["body"], mtype=cmd.get("type", "chat"))
        elif cmd.get("cmd") == "raw":
            xmpp.send_raw(cmd["xml"])
        elif cmd.get("cmd") == "quit":
            xmpp.disconnect(wait=1.0)
            loop.call_later(1.5, finish)
        else:
            emit(event="bad_command", line=line.strip())

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    if args.starttls:
        xmpp.connect((args.server, args.port), force_starttls=True, disable_starttls=False)
    else:
        xmpp.connect((args.server, args.port), force_starttls=False, disable_starttls=True)
    loop.run_until_complete(done)
    return 0


if __name__ == "__main__":
    # Do not let this folder's modules (dns.py, ...) shadow installed ones.
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(CLIENT_PY)]
    sys.exit(_main(sys.argv[1:]))
