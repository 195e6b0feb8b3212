"""xfed-edge in a harness lab: its configuration directory, the process and
an `xfedctl tap` beside it (tests/harness/README.md describes the lab).

    with Lab() as lab:
        fed = Federation(lab)
        edge = EdgeUnderTest(fed, partners=[partner("fabrikam.example", tls="Required",
                                                    sasl="Required", dialback=True)])
        edge.start()
        fed.partner_prosody.start()
        tap = edge.tap(count=1, timeout=30)
        ...
"""

import os
import re
import secrets
import subprocess
import time

from harness import xfed_bin
from harness.netns import wait_for

IPC_ENDPOINT = "tcp://127.0.0.1:5555"


def partner(domain, tls="Required", sasl="Required", dialback=True, additional=(),
            connection_limit=0, keepalive=True, proxy=""):
    return dict(domain=domain, tls=tls, sasl=sasl, dialback=dialback, additional=list(additional),
                connection_limit=connection_limit, keepalive=keepalive, proxy=proxy)


def conf_text(version, hosted, partners, settings=None):
    s = dict(max_connections=1000, max_connections_per_partner=20,
             dialback_secret=secrets.token_hex(32), log_message_bodies=False,
             keepalive_interval=300, establish_timeout=60, inactivity_timeout=600,
             subscription_refresh=28800)
    s.update(settings or {})
    out = ["version = %dL;" % version, "settings = {"]
    for k, v in s.items():
        if isinstance(v, bool):
            out.append("  %s = %s;" % (k, "true" if v else "false"))
        elif isinstance(v, int):
            out.append("  %s = %d;" % (k, v))
        else:
            out.append('  %s = "%s";' % (k, v))
    out.append("};")
    out.append("hosted_domains = [ %s ];" % ", ".join('"%s"' % h for h in hosted))
    out.append('access = { default = "allow"; domains = (); users = (); };')
    items = []
    for p in partners:
        items.append(
            '  { domain = "%s"; description = ""; additional_domains = [ %s ]; type = "Federated";'
            ' tls = "%s"; sasl = "%s"; dialback = %s; connection_limit = %d; keepalive = %s;'
            ' proxy_fqdn = "%s"; }' % (
                p["domain"], ", ".join('"%s"' % a for a in p["additional"]), p["tls"], p["sasl"],
                "true" if p["dialback"] else "false", p["connection_limit"],
                "true" if p["keepalive"] else "false", p["proxy"]))
    out.append("partners = (\n%s\n);" % ",\n".join(items))
    return "\n".join(out) + "\n"


class EdgeUnderTest:
    """xfed-edge for fed.hosted in the lab's edge namespace."""

    def __init__(self, fed, partners, cert=None, settings=None, local=None, version=1, host=None,
                 tag="", hosted=None):
        """host: the namespace to run in (default fed.edge); tag: suffix of
        the configuration directory and log, for several edges in one lab;
        hosted: the hosted domains (default [fed.hosted])."""
        self.fed = fed
        self.hosted = list(hosted or [fed.hosted])
        self.lab = fed.lab
        self.host = host or fed.edge
        self.tag = tag
        self.dir = self.lab.path("edge-conf" + tag)
        os.makedirs(self.dir, mode=0o750, exist_ok=True)
        self.version = version
        self.settings = dict(settings or {})
        self.secret = self.settings.setdefault("dialback_secret", secrets.token_hex(32))
        self.partners = partners
        self.write_conf()
        c = cert or fed.certs[fed.hosted]
        loc = dict(name="edge-test", listen=self.host.ip, port=5269, listen_tls=self.host.ip,
                   port_tls=5270, cert_file=c.chain, key_file=c.key, ca_file=fed.ca.cafile,
                   ipc_endpoint=IPC_ENDPOINT, resolver="10.254.0.53", establish_timeout=None)
        loc.pop("establish_timeout")
        loc.update(local or {})
        self.local = loc
        self.write_local()
        self.xfedctl("keys", "init-edge")
        self.xfedctl("keys", "add-gateway", "tap")
        self.proc = None

    def write_conf(self):
        with open(os.path.join(self.dir, "xfed.conf"), "w") as f:
            f.write(conf_text(self.version, self.hosted, self.partners, self.settings))

    def write_local(self):
        lines = []
        for k, v in self.local.items():
            if isinstance(v, bool):
                lines.append("%s = %s;" % (k, "true" if v else "false"))
            elif isinstance(v, int):
                lines.append("%s = %d;" % (k, v))
            else:
                lines.append('%s = "%s";' % (k, v))
        with open(os.path.join(self.dir, "edge.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def xfedctl(self, *args, timeout=30, check=True, input=None):
        return self.host.run([xfed_bin("xfedctl"), "-c", self.dir] + list(args), timeout=timeout,
                             check=check, input=input)

    def ipc_client(self, *args):
        """tests/edge/edge_ipc_client as the gateway "tap": (exit code, output)."""
        keybase = os.path.join(self.dir, "keys", "gateway", "tap")
        pub = os.path.join(self.dir, "keys", "edge.pub")
        r = self.host.run([xfed_bin("edge_ipc_client"), IPC_ENDPOINT, keybase, pub] + list(args),
                          timeout=40, check=False)
        return r.returncode, (r.stdout or "") + (r.stderr or "")

    def check_conf(self):
        """`xfed-edge -n`: (exit code, output)."""
        r = self.host.run([xfed_bin("xfed-edge"), "-n", "-c", self.dir], timeout=30, check=False)
        return r.returncode, (r.stdout or "") + (r.stderr or "")

    def start(self, extra_args=()):
        self.log_path = self.lab.path("xfed-edge%s.log" % self.tag)
        self.proc = self.host.spawn([xfed_bin("xfed-edge"), "-d", "-c", self.dir] + list(extra_args),
                                    name="xfed-edge", log_path=self.log_path)
        self.host.wait_port(self.host.ip, self.local["port"], proc=self.proc)
        return self

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, regex, timeout=20):
        rx = re.compile(regex)
        wait_for(lambda: rx.search(self.log_text()), timeout, what="edge log %r" % regex)
        return rx.search(self.log_text())

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def tap(self, *args, count=None, timeout=30):
        """Starts `xfedctl tap` in the edge namespace; returns the Proc."""
        cmd = [xfed_bin("xfedctl"), "-c", self.dir, "tap", "--endpoint", IPC_ENDPOINT,
               "--timeout", str(timeout)]
        if count is not None:
            cmd += ["--count", str(count)]
        cmd += list(args)
        return self.host.spawn(cmd, name="tap", log_path=self.lab.path("tap-%d.log" % time.monotonic_ns()))

    def inject(self, from_domain, to_domain, xml, timeout=40):
        """Sends one stanza out through the edge; returns (rc, output)."""
        path = self.lab.path("inject-%d.xml" % time.monotonic_ns())
        with open(path, "w") as f:
            f.write(xml)
        r = self.host.run([xfed_bin("xfedctl"), "-c", self.dir, "tap", "--endpoint", IPC_ENDPOINT,
                           "--inject", path, "--from", from_domain, "--to", to_domain,
                           "--timeout", str(timeout)], timeout=timeout + 10, check=False)
        return r.returncode, (r.stdout or "") + (r.stderr or "")


def tap_output(proc):
    try:
        with open(proc.log_path, errors="replace") as f:
            return f.read()
    except (OSError, AttributeError):
        return proc.output() if hasattr(proc, "output") else ""


def wait_tap(tap, body, timeout=30):
    """True once body appears in the tap's output within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if body in tap_output(tap):
            return True
        time.sleep(0.2)
    return False


def check(cond, what, *dumps):
    if not cond:
        for d in dumps:
            print("----\n" + (d if isinstance(d, str) else repr(d))[-6000:])
        raise AssertionError(what)
    print("ok: " + what)
