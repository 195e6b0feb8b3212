"""A real Prosody 0.12 (Debian package) as an XMPP partner inside a lab namespace.

    p = Prosody(host, "fabrikam.example", ca=ca, cert=ca.issue("fabrikam.example"),
                tls="required", secure_auth=True, dialback=True)
    p.add_user("alice", "secret")     # prosodyctl register, in the instance's data dir
    p.start()                         # as user prosody, in host's namespace; waits for its ports
    ...
    p.configure(secure_auth=False, tls="off"); p.restart()
    assert p.log_since(mark).count("Forbidding insecure connection")

Each instance lives in <lab tmp>/prosody-<domain>/ (owned by user prosody):
prosody.cfg.lua, data/ (internal storage: accounts survive restarts),
prosody.log (debug level), prosody.pid. Prosody refuses to run as root, so
it is started with setpriv as user prosody; `prosody -F` keeps it in the
foreground (0.12 deprecates the `daemonize` option in favour of -F/-D).

Knobs (constructor keywords, also accepted by configure(); see README.md):
  tls           "required" | "optional" | "off" for s2s (s2s_require_encryption,
                s2s_allow_encryption). c2s TLS is separate: c2s_tls.
  secure_auth   s2s_secure_auth: peers must present a certificate valid for
                their domain (chain to `ca` and name match); Prosody then uses
                and offers SASL EXTERNAL and refuses dialback-only peers.
  cert_auth     False disables mod_s2s_auth_certs: Prosody never validates
                peer certificates, so it never offers SASL EXTERNAL and every
                s2s stream falls back to dialback (do not combine with
                secure_auth=True: every stream would be refused).
  dialback      False disables mod_dialback (SASL EXTERNAL only).
  insecure_domains / secure_domains   s2s_insecure_domains / s2s_secure_domains
  direct_tls_port   e.g. 5270: also listen for XEP-0368 direct TLS
                (s2s_direct_tls_ports). Outbound, Prosody 0.12 itself tries
                _xmpps-server._tcp SRV first (direct TLS, ALPN xmpp-server)
                whenever s2s TLS is allowed, then _xmpp-server._tcp.
  bidi          True loads mod_s2s_bidi (XEP-0288).
  s2s_timeout   seconds for outbound stream set-up (default 20 here, 90 in Prosody).
  c2s_tls       True: clients must STARTTLS (certificate from `cert`); False:
                plain c2s with PLAIN allowed (test clients only).
  rate          mod_limits rate for s2sin and c2s (default "10mb/s", Prosody's
                own default is 30 KiB/s for s2s).
  dialback_secret, extra_global (Lua text appended to the global section),
  extra_host (Lua text appended inside the VirtualHost).
"""

import os
import pwd
import re
import shutil
import signal
import time

from .netns import HarnessError

PROSODY_USER = "prosody"
TLS_MODES = ("required", "optional", "off")


def _lua_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lua_list(items):
    return "{ " + "; ".join(_lua_str(i) for i in items) + " }"


def _lua_bool(b):
    return "true" if b else "false"


class Prosody:
    """One Prosody process serving one VirtualHost (domain) on host.ip."""

    DEFAULTS = dict(
        tls="required", secure_auth=False, cert_auth=True, dialback=True, insecure_domains=(),
        secure_domains=(), direct_tls_port=None, bidi=False, s2s_timeout=20, c2s_tls=False,
        rate="10mb/s", dialback_secret="xfed-harness-dialback-secret", extra_global="", extra_host="",
        s2s_port=5269, c2s_port=5222, log_level="debug",
    )

    def __init__(self, host, domain, ca=None, cert=None, **opts):
        """host: a netns.Host; domain: the VirtualHost; ca: TestCA to trust;
        cert: harness.ca.Cert presented for domain (required unless tls="off"
        and c2s_tls is false). Other keywords: see the module docstring."""
        self.host = host
        self.lab = host.lab
        self.domain = domain
        self.ca = ca
        self.cert = cert
        self.opts = dict(self.DEFAULTS)
        self.configure(**opts)
        self.dir = self.lab.path("prosody-%s" % domain)
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.dir, "prosody.log")
        self.pid_path = os.path.join(self.dir, "prosody.pid")
        self.proc = None
        pw = pwd.getpwnam(PROSODY_USER)
        self._uid, self._gid = pw.pw_uid, pw.pw_gid
        for d in (self.dir, self.data_dir, os.path.join(self.dir, "certs")):
            os.makedirs(d, exist_ok=True)
            os.chown(d, self._uid, self._gid)
            os.chmod(d, 0o750)
        self._write_config()

    # -- configuration -----------------------------------------------------
    def configure(self, **opts):
        """Change knobs (same names as the constructor); takes effect at the next (re)start.

        cert= and ca= may be passed here too to swap certificates.
        """
        for k in ("cert", "ca"):
            if k in opts:
                setattr(self, k, opts.pop(k))
        unknown = set(opts) - set(self.DEFAULTS)
        if unknown:
            raise HarnessError("unknown Prosody option(s): %s" % ", ".join(sorted(unknown)))
        self.opts.update(opts)
        if self.opts["tls"] not in TLS_MODES:
            raise HarnessError("tls must be one of %s" % (TLS_MODES,))
        if hasattr(self, "config_path"):
            self._write_config()
        return self

    def jid(self, user):
        return "%s@%s" % (user, self.domain)

    @property
    def ip(self):
        return self.host.ip

    def config_text(self):
        o = self.opts
        ssl = {}
        if self.cert is not None:
            ssl["certificate"] = self.cert.cert
            ssl["key"] = self.cert.key
        if self.ca is not None:
            ssl["cafile"] = self.ca.cafile
        ssl_lua = "{ " + "; ".join("%s = %s" % (k, _lua_str(v)) for k, v in sorted(ssl.items())) + " }"
        modules = ["roster", "saslauth", "disco", "ping", "limits", "tls"]
        disabled = ["offline"]
        if o["dialback"]:
            modules.append("dialback")
        else:
            disabled.append("dialback")
        if not o["cert_auth"]:
            disabled.append("s2s_auth_certs")
        if o["bidi"]:
            modules.append("s2s_bidi")
        lines = [
            "-- generated by tests/harness/prosody.py; do not edit",
            "pidfile = %s" % _lua_str(self.pid_path),
            "data_path = %s" % _lua_str(self.data_dir),
            "certificates = %s" % _lua_str(os.path.join(self.dir, "certs")),
            "log = { { levels = { min = %s }; to = \"file\"; filename = %s } }"
            % (_lua_str(o["log_level"]), _lua_str(self.log_path)),
            "interfaces = { %s }" % _lua_str(self.host.ip),
            "local_interfaces = { %s }" % _lua_str(self.host.ip),
            "use_ipv6 = false",
            "c2s_ports = { %d }" % o["c2s_port"],
            "s2s_ports = { %d }" % o["s2s_port"],
            "c2s_direct_tls_ports = { }",
            "s2s_direct_tls_ports = { %s }" % (o["direct_tls_port"] or ""),
            "modules_enabled = %s" % _lua_list(modules),
            "modules_disabled = %s" % _lua_list(disabled),
            "authentication = \"internal_hashed\"",
            "storage = \"internal\"",
            "allow_registration = false",
            "c2s_require_encryption = %s" % _lua_bool(o["c2s_tls"]),
            "allow_unencrypted_plain_auth = %s" % _lua_bool(not o["c2s_tls"]),
            "s2s_require_encryption = %s" % _lua_bool(o["tls"] == "required"),
            "s2s_allow_encryption = %s" % _lua_bool(o["tls"] != "off"),
            "s2s_secure_auth = %s" % _lua_bool(o["secure_auth"]),
            "s2s_insecure_domains = %s" % _lua_list(o["insecure_domains"]),
            "s2s_secure_domains = %s" % _lua_list(o["secure_domains"]),
            "s2s_timeout = %d" % o["s2s_timeout"],
            "dialback_secret = %s" % _lua_str(o["dialback_secret"]),
            "limits = { c2s = { rate = %s; burst = \"2s\" }; s2sin = { rate = %s; burst = \"2s\" } }"
            % (_lua_str(o["rate"]), _lua_str(o["rate"])),
            "ssl = %s" % ssl_lua,
            "s2s_direct_tls_ssl = %s" % ssl_lua,
            o["extra_global"],
            "",
            "VirtualHost %s" % _lua_str(self.domain),
            "    ssl = %s" % ssl_lua,
            "    s2s_direct_tls_ssl = %s" % ssl_lua,
            o["extra_host"],
            "",
        ]
        return "\n".join(lines)

    def _write_config(self):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.config_text())
        os.chown(tmp, self._uid, self._gid)
        os.chmod(tmp, 0o640)
        os.replace(tmp, self.config_path)

    # -- accounts ----------------------------------------------------------
    def add_user(self, user, password):
        """Create user@domain with prosodyctl in this instance's data dir (works stopped or running)."""
        res = self.host.run(["prosodyctl", "--config", self.config_path, "register", user, self.domain, password],
                            user=PROSODY_USER, timeout=30, check=False)
        if res.returncode != 0:
            raise HarnessError("prosodyctl register %s@%s failed:\n%s%s" % (user, self.domain, res.stdout, res.stderr))
        return self.jid(user)

    # -- process -----------------------------------------------------------
    def start(self, timeout=20.0):
        """Start Prosody as user prosody inside the namespace; return when its ports accept.

        Raises HarnessError (with the log tail) if it exits or does not open
        its ports within timeout seconds. Returns seconds taken.
        """
        if self.proc is not None and self.proc.alive():
            raise HarnessError("Prosody %s already running" % self.domain)
        self._write_config()
        t0 = time.monotonic()
        self.proc = self.host.spawn(["prosody", "-F", "--config", self.config_path], name="prosody-" + self.domain,
                                    user=PROSODY_USER, log_path=os.path.join(self.dir, "stdout.log"))
        ports = [self.opts["s2s_port"], self.opts["c2s_port"]]
        if self.opts["direct_tls_port"]:
            ports.append(self.opts["direct_tls_port"])
        try:
            for port in ports:
                self.host.wait_port(self.host.ip, port, timeout=max(0.1, timeout - (time.monotonic() - t0)),
                                    proc=self.proc)
        except HarnessError as exc:
            raise HarnessError("%s\n--- prosody.log tail ---\n%s" % (exc, self.log_text()[-3000:])) from exc
        return time.monotonic() - t0

    def stop(self, timeout=10.0):
        """SIGTERM (Prosody closes its streams), bounded wait, then SIGKILL."""
        if self.proc is not None:
            self.proc.stop(timeout=timeout)
            self.lab.forget(self.proc)
            self.proc = None

    def restart(self, timeout=20.0):
        """stop() then start(): the way to apply configure() changes. Accounts persist."""
        self.stop()
        return self.start(timeout)

    def reload(self):
        """SIGHUP: Prosody 0.12 re-reads its config file and certificates and
        reopens logs, but does not reload modules or rebind ports; prefer
        restart() for the knobs above."""
        self._write_config()
        if self.proc is None or not self.proc.alive():
            raise HarnessError("Prosody %s not running" % self.domain)
        self.proc.signal(signal.SIGHUP)

    def alive(self):
        return self.proc is not None and self.proc.alive()

    # -- logs --------------------------------------------------------------
    def log_text(self):
        """The whole prosody.log (debug level) as text ('' before the first start)."""
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def mark(self):
        """An offset into the log; pass it to log_since()/wait_log() to see only newer lines."""
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, mark=0):
        """Log text written after mark (from mark())."""
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10.0, since=0):
        """Wait until a line matching regex pattern appears after offset since; return the match.

        Raises HarnessError on timeout (bounded)."""
        rx = re.compile(pattern)
        t0 = time.monotonic()
        while True:
            m = rx.search(self.log_since(since))
            if m:
                return m
            if time.monotonic() - t0 > timeout:
                raise HarnessError("%s: no log line matching %r within %.1fs" % (self.domain, pattern, timeout))
            time.sleep(0.1)

    def copy_log(self, dest):
        """Copy prosody.log to dest (e.g. to keep it as a CI artefact)."""
        shutil.copyfile(self.log_path, dest)
