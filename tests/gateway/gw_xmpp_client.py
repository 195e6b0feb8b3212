"""A real XMPP client (Debian's python3-slixmpp) for the gateway's end-to-end
tests: messages and presence, with subscription approval left to the test.

Test side: GwClient(host, jid, password, server_ip).start() -> logged in
(bounded), then .send(), .presence(), .subscribe(), .approve(), ... and
.wait(pred, timeout) over the events; every wait is bounded.

Subprocess side (run by GwClient with /usr/bin/python3 inside the server's
namespace): prints one JSON object per received stanza on stdout:
  {"event": "message", "from", "to", "type", "id", "body"}
  {"event": "message_error", "from", "to", "id", "condition", "etype", "text"}
  {"event": "presence", "from", "to", "type", "show", "status", "priority", "condition"}
  {"event": "ready"} / {"event": "failed", "reason"} / {"event": "disconnected"}
and reads commands, one JSON object per line, on stdin:
  {"cmd": "send", "to", "body", "type", "id"}      a message
  {"cmd": "presence", "to"?, "type"?, "show"?, "status"?, "priority"?}
  {"cmd": "raw", "xml"}                             any stanza
  {"cmd": "quit"}
Subscription requests are never answered automatically (auto_authorize is
None, auto_subscribe False): the test sends subscribed/unsubscribed itself.
"""

import json
import os
import queue
import sys
import threading
import time

CLIENT_PY = os.path.abspath(__file__)
PYTHON = "/usr/bin/python3"


class GwClient:
    """A logged-in XMPP client subprocess; every wait is bounded."""

    def __init__(self, host, jid, password, server_ip, port=5222, login_timeout=20.0, initial=True):
        self.host = host
        self.jid = jid
        self.password = password
        self.server_ip = server_ip
        self.port = port
        self.login_timeout = login_timeout
        self.initial = initial
        self.proc = None
        self.events = []
        self._q = queue.Queue()
        self._pending = []
        self._lock = threading.Lock()

    def start(self):
        cmd = [PYTHON, CLIENT_PY, "--jid", self.jid, "--server", self.server_ip, "--port",
               str(self.port)]
        if not self.initial:
            cmd.append("--no-initial-presence")
        env = dict(os.environ, XFED_CLIENT_PASSWORD=self.password)
        self.proc = self.host.spawn(cmd, name="xmpp-" + self.jid, pipe=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()
        ev = self.wait(lambda e: e["event"] in ("ready", "failed", "disconnected", "exit"),
                       self.login_timeout)
        if ev is None or ev["event"] != "ready":
            out = self.proc.output()[-2000:]
            self.close()
            raise RuntimeError("client %s did not log in: %r\n%s" % (self.jid, ev, out))
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
            with self._lock:
                self.events.append(ev)
            self._q.put(ev)
        self._q.put({"event": "exit"})

    def wait(self, pred, timeout):
        """The first event (not yet taken) that pred accepts, or None after timeout."""
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
            self._pending.append(ev)
            if ev["event"] == "exit":
                return None

    def wait_message(self, timeout=15.0, from_=None, body=None):
        return self.wait(lambda e: e["event"] == "message" and
                         (from_ is None or e["from"].split("/")[0] == from_) and
                         (body is None or body in e["body"]), timeout)

    def wait_error(self, timeout=15.0, id_=None):
        return self.wait(lambda e: e["event"] == "message_error" and
                         (id_ is None or e["id"] == id_), timeout)

    def wait_presence(self, timeout=15.0, from_=None, type_=None, show=None, status=None):
        """type_ "available" matches presence without a type."""
        def pred(e):
            if e["event"] != "presence":
                return False
            t = e["type"] or "available"
            return ((from_ is None or e["from"].split("/")[0] == from_) and
                    (type_ is None or t == type_) and (show is None or e["show"] == show) and
                    (status is None or e["status"] == status))
        return self.wait(pred, timeout)

    def drain(self):
        """Forget every event received so far."""
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._pending = []

    def _cmd(self, obj):
        if self.proc is None or not self.proc.alive():
            raise RuntimeError("client %s is not running" % self.jid)
        self.proc.popen.stdin.write(json.dumps(obj) + "\n")
        self.proc.popen.stdin.flush()

    def send(self, to, body, mtype="chat", id_=None):
        self._cmd({"cmd": "send", "to": to, "body": body, "type": mtype, "id": id_})

    def presence(self, to=None, ptype=None, show=None, status=None, priority=None):
        self._cmd({"cmd": "presence", "to": to, "type": ptype, "show": show, "status": status,
                   "priority": priority})

    def subscribe(self, to):
        self.presence(to=to, ptype="subscribe")

    def approve(self, to):
        self.presence(to=to, ptype="subscribed")

    def raw(self, xml):
        self._cmd({"cmd": "raw", "xml": xml})

    def close(self):
        if self.proc is None:
            return
        try:
            if self.proc.alive():
                self._cmd({"cmd": "quit"})
                self.proc.wait(4.0)
        except Exception:  # killed below in any case
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


def _main(argv):
    import argparse
    import asyncio
    import logging

    import slixmpp

    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=5222)
    ap.add_argument("--no-initial-presence", action="store_true")
    args = ap.parse_args(argv)
    password = os.environ.get("XFED_CLIENT_PASSWORD", "")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def emit(**kw):
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()

    class Client(slixmpp.ClientXMPP):
        async def get_dns_records(self, domain, port=None):
            return [(self.boundjid.domain, args.server, args.port)]

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = Client(args.jid, password)
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False
    xmpp["feature_mechanisms"].unencrypted_plain = True
    done = loop.create_future()

    def finish():
        if not done.done():
            done.set_result(True)

    async def on_start(_event):
        await xmpp.get_roster()
        if not args.no_initial_presence:
            xmpp.send_presence()
        emit(event="ready", jid=str(xmpp.boundjid))

    def on_error(msg):
        emit(event="message_error", **{"from": str(msg["from"]), "to": str(msg["to"]),
                                       "id": msg["id"], "condition": msg["error"]["condition"],
                                       "etype": msg["error"]["type"], "text": msg["error"]["text"]})

    def on_message(msg):
        if msg["type"] == "error":
            return  # message_error reports it
        emit(event="message", **{"from": str(msg["from"]), "to": str(msg["to"]),
                                  "type": msg["type"], "id": msg["id"], "body": msg["body"]})

    def on_presence(p):
        ptype = p["type"]
        if ptype in ("available", "away", "xa", "dnd", "chat"):
            ptype = None  # slixmpp folds show into type; keep the wire form
        cond = p["error"]["condition"] if p["type"] == "error" else ""
        emit(event="presence", **{"from": str(p["from"]), "to": str(p["to"]), "type": ptype,
                                   "show": p["show"] or "", "status": p["status"] or "",
                                   "priority": p["priority"], "condition": cond})

    xmpp.add_event_handler("session_start", on_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("message_error", on_error)
    xmpp.add_event_handler("presence", on_presence)
    xmpp.add_event_handler("failed_auth", lambda _e: (emit(event="failed", reason="auth"), finish()))
    xmpp.add_event_handler("connection_failed",
                           lambda e: (emit(event="failed", reason="connect: %s" % e), finish()))
    xmpp.add_event_handler("disconnected", lambda _e: (emit(event="disconnected"), finish()))

    pending = bytearray()

    def on_stdin():
        # os.read, not readline: buffered lines would wait for the next wake-up
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            xmpp.disconnect(wait=1.0)
            loop.call_later(1.5, finish)
            loop.remove_reader(sys.stdin.fileno())
            return
        pending.extend(data)
        while b"\n" in pending:
            i = pending.index(b"\n")
            line = pending[:i].decode("utf-8", "replace")
            del pending[:i + 1]
            if line.strip():
                command(line)

    def command(line):
        try:
            cmd = json.loads(line)
        except ValueError:
            emit(event="bad_command", line=line.strip())
            return
        c = cmd.get("cmd")
        if c == "send":
            m = xmpp.make_message(mto=cmd["to"], mbody=cmd["body"], mtype=cmd.get("type") or "chat")
            if cmd.get("id"):
                m["id"] = cmd["id"]
            m.send()
        elif c == "presence":
            kw = {}
            if cmd.get("to"):
                kw["pto"] = cmd["to"]
            if cmd.get("type"):
                kw["ptype"] = cmd["type"]
            if cmd.get("show"):
                kw["pshow"] = cmd["show"]
            if cmd.get("status"):
                kw["pstatus"] = cmd["status"]
            if cmd.get("priority") is not None:
                kw["ppriority"] = cmd["priority"]
            xmpp.send_presence(**kw)
        elif c == "raw":
            xmpp.send_raw(cmd["xml"])
        elif c == "quit":
            xmpp.disconnect(wait=1.0)
            loop.call_later(1.5, finish)
        else:
            emit(event="bad_command", line=line.strip())

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    xmpp.connect((args.server, args.port), force_starttls=False, disable_starttls=True)
    loop.run_until_complete(done)
    return 0


if __name__ == "__main__":
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(CLIENT_PY)]
    sys.exit(_main(sys.argv[1:]))
