"""The gateway's end-to-end lab on top of tests/harness: a Prosody 0.12
partner (fabrikam.example) with real XMPP clients <-> xfed-edge <->
xfed-gateway <-> Kamailio 5.6 (registrar + presence + presence_xml,
tests/gateway/kamailio/kamailio.cfg) <-> internal users played by sipp
(tests/gateway/e2e_sipp/).

    with Lab() as lab:
        g = GatewayLab(lab, partner_type="Federated").start()
        with g.client("alice") as alice:
            ...

Hosts (network namespaces the lab creates and removes):
  edge     10.254.0.10  xfed-edge for contoso.example (IPC bound on its address)
  partner  10.254.0.11  Prosody fabrikam.example
  gw       10.254.0.12  xfed-gateway (SIP listener 5070)
  sip      10.254.0.13  Kamailio (UDP+TCP 5060, TLS 5061 with tls=True) and every sipp

With tls=True the gateway and Kamailio speak SIP over TLS both ways
(certificates from a CA made for the lab; Kamailio's names SIP_TLS_NAME).
Every process is started once per test file, killed by pid at the end;
every wait is bounded.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("XFED_SRC", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests"))
sys.path.insert(0, os.path.join(SRC, "tests", "edge"))
sys.path.insert(0, HERE)

from harness import Federation, xfed_bin  # noqa: E402
from harness.netns import wait_for  # noqa: E402
from edgelab import EdgeUnderTest, partner  # noqa: E402
from gw_xmpp_client import GwClient  # noqa: E402

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"
GW_NAME = "gw1"
SIP_PORT = 5060
SIP_TLS_PORT = 5061
SIP_TLS_NAME = "sip.contoso.example"
GW_PORT = 5070
METRICS_PORT = 9270
KAM_MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
KAM_SQL = "/usr/share/kamailio/db_sqlite"
SIPP_DIR = os.path.join(HERE, "e2e_sipp")
GW_SIPP_DIR = os.path.join(HERE, "sipp")


def run_test(main):
    """Exits with main()'s status, or 1 after printing the check that failed."""
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAILED: %s" % e, flush=True)
        sys.exit(1)


def check(cond, what, *dumps):
    if not cond:
        for d in dumps:
            text = d() if callable(d) else d
            print("----\n" + (text if isinstance(text, str) else repr(text))[-8000:])
        raise AssertionError(what)
    print("ok: " + what, flush=True)


class Sipp:
    """One sipp run in the sip namespace; its messages go to .trace."""

    def __init__(self, glab, scenario, keys, port, calls=1, timeout=30, extra=()):
        self.g = glab
        self.trace = glab.lab.path("sipp-%s-%d-%d.msg" % (os.path.basename(scenario), port,
                                                          time.monotonic_ns()))
        path = scenario if os.path.isabs(scenario) else os.path.join(SIPP_DIR, scenario)
        cmd = ["sipp", "-sf", path, "-i", glab.sip.ip, "-p", str(port), "-t", "u1",
               "-timeout", "%ds" % timeout, "-timeout_error", "-nostdin", "-trace_msg",
               "-message_file", self.trace, "-base_cseq", "1", "-mp", str(port + 5)]
        if calls:
            cmd += ["-m", str(calls)]
        for k, v in keys.items():
            cmd += ["-key", k, str(v)]
        cmd += list(extra)
        cmd.append("%s:%d" % (glab.sip.ip, SIP_PORT))
        self.proc = glab.sip.spawn(cmd, name="sipp-" + os.path.basename(scenario),
                                   cwd=glab.lab.tmp)

    def wait(self, timeout=40):
        try:
            return self.proc.wait(timeout)
        except Exception:
            self.g.lab.forget(self.proc)
            return None

    def stop(self):
        self.g.lab.forget(self.proc)

    def messages(self):
        try:
            with open(self.trace, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def received(self):
        """The SIP messages sipp received, as text blocks."""
        out = []
        for block in self.messages().split("----------------------------------------------- "):
            m = re.search(r"message received \[\d+\] bytes :\s*\n\n(.*)", block, re.S)
            if m:
                out.append(m.group(1).strip("\n"))
        return out

    def final_code(self):
        for msg in self.received():
            m = re.match(r"SIP/2.0 (\d{3})", msg)
            if m and int(m.group(1)) >= 200:
                return int(m.group(1))
        return None

    def wait_received(self, pred, timeout=20, what="a SIP message"):
        """The first received message pred accepts, waiting (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.received():
                if pred(msg):
                    return msg
            time.sleep(0.1)
        return None


class GatewayLab:
    def __init__(self, lab, partner_type="Federated", gw_local=None, kam_globals="",
                 tls=False, **prosody_knobs):
        self.lab = lab
        self.tls = tls
        self.fed = Federation(lab, hosted=HOSTED, partner=PARTNER, **prosody_knobs)
        self.gw = lab.add_host("gw")
        self.sip = lab.add_host("sip")
        self.prosody = self.fed.partner_prosody
        self.password = self.fed.password
        ipc = "tcp://%s:5555" % self.fed.edge.ip
        self.edge = EdgeUnderTest(self.fed, [partner(PARTNER)], local={"ipc_endpoint": ipc})
        self.edge.xfedctl("keys", "add-gateway", GW_NAME)
        # the gateway's configuration directory: its own configuration plane
        self.dir = lab.path("gw-conf")
        self.xfedctl("init", "--hosted-domain", HOSTED)
        self.xfedctl("partner", "new", PARTNER, "--type", partner_type)
        os.makedirs(os.path.join(self.dir, "keys", "gateway"), mode=0o700, exist_ok=True)
        for f in ("%s.key" % GW_NAME, "%s.pub" % GW_NAME):
            shutil.copy2(os.path.join(self.edge.dir, "keys", "gateway", f),
                         os.path.join(self.dir, "keys", "gateway", f))
        shutil.copy2(os.path.join(self.edge.dir, "keys", "edge.pub"),
                     os.path.join(self.dir, "keys", "edge.pub"))
        self.local = dict(name=GW_NAME, edges=ipc, sip_server="%s:%d" % (self.sip.ip, SIP_PORT),
                          sip_listen=self.gw.ip, sip_port=GW_PORT,
                          state_db=os.path.join(self.dir, "state.db"), error_wait_ms=2000,
                          conf_check_ms=300,
                          metrics_listen="%s:%d" % (self.gw.ip, METRICS_PORT))
        self.kam_dir = lab.path("kamailio")
        os.makedirs(self.kam_dir, exist_ok=True)
        if tls:
            self.make_tls()
        self.local.update(gw_local or {})
        self.write_local()
        self.write_kamailio(kam_globals)
        self.gw_proc = None
        self.kam = None
        self.gw_logs = []
        self.next_port = 20000

    # ---- configuration ----------------------------------------------------
    def xfedctl(self, *args, check_rc=True):
        r = self.gw.run([xfed_bin("xfedctl"), "-c", self.dir] + list(args), timeout=30,
                        check=False)
        if check_rc and r.returncode != 0:
            raise RuntimeError("xfedctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def write_local(self):
        lines = []
        for k, v in self.local.items():
            if isinstance(v, bool):
                lines.append("%s = %s;" % (k, "true" if v else "false"))
            elif isinstance(v, int):
                lines.append("%s = %d;" % (k, v))
            else:
                lines.append('%s = "%s";' % (k, v))
        with open(os.path.join(self.dir, "gateway.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def write_kamailio(self, extra_globals=""):
        """The test configuration with its placeholders filled; extra_globals are global
        parameter lines put before the modules (they override earlier ones, e.g. TCP queue
        sizes for a benchmark)."""
        with open(os.path.join(HERE, "kamailio", "kamailio.cfg")) as f:
            cfg = f.read()
        if extra_globals:
            cfg = cfg.replace("\nloadmodule ", "\n" + extra_globals.strip() + "\n\nloadmodule ",
                              1)
        subst = {"@SIP_ADDR@": self.sip.ip, "@SIP_PORT@": str(SIP_PORT),
                 "@LOCAL_DOMAIN@": HOSTED, "@PARTNER_DOMAIN@": PARTNER,
                 "@GW_ADDR@": self.gw.ip, "@GW_PORT@": str(GW_PORT),
                 "@DB_URL@": "sqlite:///" + os.path.join(self.kam_dir, "kamailio.db"),
                 "@MPATH@": KAM_MPATH, "@SIP_TLS_PORT@": str(SIP_TLS_PORT),
                 "@TLS_CFG@": os.path.join(self.kam_dir, "tls.cfg")}
        for k, v in subst.items():
            cfg = cfg.replace(k, v)
        self.kam_cfg = os.path.join(self.kam_dir, "kamailio.cfg")
        with open(self.kam_cfg, "w") as f:
            f.write(cfg)
        db = sqlite3.connect(os.path.join(self.kam_dir, "kamailio.db"))
        for name in ("standard-create.sql", "presence-create.sql"):
            with open(os.path.join(KAM_SQL, name)) as f:
                db.executescript(f.read())
        db.commit()
        db.close()

    def make_tls(self):
        """A CA, Kamailio's certificate (DNS-ID SIP_TLS_NAME, URI-ID sip:contoso.example)
        and the gateway's, Kamailio's tls.cfg, and the gateway's TLS settings."""
        d = self.lab.path("sip-tls")
        os.makedirs(d, exist_ok=True)

        def ossl(*args):
            r = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True,
                               timeout=30)
            if r.returncode != 0:
                raise RuntimeError("openssl %s: %s" % (args[0], r.stderr))

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=xfed test SIP CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        for name, san in (("kamailio", "DNS:%s,URI:sip:%s" % (SIP_TLS_NAME, HOSTED)),
                          ("gateway", "DNS:gw.%s" % HOSTED)):
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n"
                        "basicConstraints=critical,CA:FALSE\n" % san)
            ossl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + name)
            ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", name + ".pem", "-extfile", name + ".ext")
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        with open(os.path.join(self.kam_dir, "tls.cfg"), "w") as f:
            f.write("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                    "require_certificate = no\ncertificate = {d}/kamailio.pem\n"
                    "private_key = {d}/kamailio.key\nca_list = {d}/ca.pem\n\n"
                    "[client:default]\nmethod = TLSv1.2+\nverify_certificate = yes\n"
                    "require_certificate = yes\nca_list = {d}/ca.pem\n"
                    "certificate = {d}/kamailio.pem\nprivate_key = {d}/kamailio.key\n"
                    .format(d=d))
        self.local.update(sip_transport="tls", sip_server="%s:%d" % (self.sip.ip, SIP_TLS_PORT),
                          sip_server_name=SIP_TLS_NAME, sip_ca_file=os.path.join(d, "ca.pem"),
                          sip_cert_file=os.path.join(d, "gateway.pem"),
                          sip_key_file=os.path.join(d, "gateway.key"))

    # ---- processes --------------------------------------------------------
    def start(self, prosody=True, kam_mem_mb=64, kam_args=()):
        """Kamailio (kam_args: more command line options), the edge, the gateway and (unless
        prosody is False: the partner host's 5269 is then free for a raw peer) Prosody."""
        self.kam = self.sip.spawn(["kamailio", "-f", self.kam_cfg, "-DD", "-E", "-Y", self.kam_dir,
                                   "-P", os.path.join(self.kam_dir, "kamailio.pid"), "-m",
                                   str(kam_mem_mb), "-M", "8", "-w", self.kam_dir] +
                                  (["-A", "WITH_TLS"] if self.tls else []) + list(kam_args),
                                  name="kamailio",
                                  log_path=os.path.join(self.kam_dir, "kamailio.log"))
        self.sip.wait_port(self.sip.ip, SIP_PORT, timeout=20, proc=self.kam)
        if self.tls:
            self.sip.wait_port(self.sip.ip, SIP_TLS_PORT, timeout=20, proc=self.kam)
        self.edge.start()
        self.start_gateway()
        if prosody:
            self.prosody.start()
        return self

    def start_gateway(self, wait=True):
        log = self.lab.path("xfed-gateway-%d.log" % (len(self.gw_logs) + 1))
        self.gw_logs.append(log)
        self.gw_proc = self.gw.spawn([xfed_bin("xfed-gateway"), "-d", "-c", self.dir],
                                     name="xfed-gateway", log_path=log)
        if wait:
            self.wait_gw_log(r"event=edge-up", 20)
            self.wait_gw_log(r"event=sip-next-hop-up", 20)
        return self.gw_proc

    def stop_gateway(self, sig=15):
        self.gw_proc.signal(sig)
        rc = self.gw_proc.wait(15)
        self.lab.forget(self.gw_proc)
        return rc

    def gw_log(self):
        try:
            with open(self.gw_logs[-1], errors="replace") as f:
                return f.read()
        except (OSError, IndexError):
            return ""

    def all_gw_logs(self):
        out = []
        for p in self.gw_logs:
            try:
                with open(p, errors="replace") as f:
                    out.append(f.read())
            except OSError as e:
                out.append("(%s)" % e)
        return "\n".join(out)

    def wait_gw_log(self, regex, timeout=20):
        rx = re.compile(regex)
        wait_for(lambda: rx.search(self.gw_log()), timeout, what="gateway log %r" % regex)
        return rx.search(self.gw_log())

    def scrape(self):
        """GET /metrics of the gateway (from its own namespace), parsed with
        prometheus_client: {(name, ((label, value), ...)): value}, names as written
        (counters keep _total)."""
        from prometheus_client.parser import text_string_to_metric_families
        code = ("import urllib.request,sys;"
                "r=urllib.request.urlopen('http://%s:%d/metrics',timeout=5);"
                "sys.stdout.write(r.headers.get('Content-Type')+'\\n'+r.read().decode())"
                % (self.gw.ip, METRICS_PORT))
        out = self.gw.run(["/usr/bin/python3", "-c", code], timeout=20).stdout
        ctype, _, text = out.partition("\n")
        check(ctype.startswith("text/plain; version=0.0.4"), "the scrape is Prometheus text: %s"
              % ctype)
        got = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                got[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return got

    def kam_log(self):
        try:
            with open(os.path.join(self.kam_dir, "kamailio.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def dumps(self):
        return [lambda: "gateway log:\n" + self.all_gw_logs(),
                lambda: "edge log:\n" + self.edge.log_text(),
                lambda: "kamailio log:\n" + self.kam_log(),
                lambda: "prosody log:\n" + self.prosody.log_text()]

    # ---- peers ------------------------------------------------------------
    def client(self, user, initial=True):
        """A logged-in XMPP client for user@fabrikam.example (the user is created)."""
        self.prosody.add_user(user, self.password)
        return GwClient(self.fed.partner, self.prosody.jid(user), self.password, self.prosody.ip,
                        initial=initial).start()

    def port(self):
        """A fresh UDP port for a sipp (with room for its media socket at +5)."""
        self.next_port += 10
        return self.next_port

    def sipp(self, scenario, keys, calls=1, timeout=30, port=None, extra=()):
        return Sipp(self, scenario, keys, port or self.port(), calls=calls, timeout=timeout,
                    extra=extra)

    def register(self, user, contact_port):
        r = self.sipp(os.path.join(GW_SIPP_DIR, "register.xml"),
                      {"user": user, "domain": HOSTED, "contact_port": contact_port})
        rc = r.wait(30)
        check(rc == 0, "sipp registers %s@%s" % (user, HOSTED), r.messages, *self.dumps())

    def uas(self, user, scenario="uas.xml"):
        """A registered SIP user answering every MESSAGE (200, or 480 with uas_480.xml);
        returns the Sipp."""
        port = self.port()
        u = self.sipp(scenario, {}, calls=0, timeout=600, port=port)
        self.register(user, port)
        return u

    def message(self, user, peer, text, timeout=40):
        """user@contoso.example sends a MESSAGE to peer; returns (final code, Sipp)."""
        m = self.sipp("message.xml", {"user": user, "domain": HOSTED, "peer": peer, "text": text})
        m.wait(timeout)
        return m.final_code(), m

    def publish(self, user, basic, note, activity="<rpid:unknown/>", etag=None):
        """PUBLISHes user's presence (a new publication, or a change of etag's); returns the
        new SIP-ETag."""
        keys = {"user": user, "domain": HOSTED, "basic": basic, "note": note,
                "activity": activity}
        scen = "publish.xml"
        if etag:
            keys["etag"] = etag
            scen = "publish_update.xml"
        p = self.sipp(scen, keys)
        rc = p.wait(30)
        check(rc == 0, "sipp PUBLISH %s %s (%s)" % (user, basic, note), p.messages, *self.dumps())
        m = re.search(r"SIP-ETag:\s*(\S+)", p.messages(), re.I)
        return m.group(1) if m else None

    def set_partner_type(self, ptype):
        """Changes fabrikam's type in the gateway's configuration plane and waits until the
        gateway has applied it and the edge acknowledged the push."""
        before = self.gw_log().count("outcome=applied")
        self.xfedctl("partner", "set", PARTNER, "--type", ptype)
        wait_for(lambda: self.gw_log().count("outcome=applied") > before, 15,
                 what="the edge applies the pushed configuration")
