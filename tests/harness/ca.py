"""A private test CA made at test time with the openssl CLI (nothing is committed).

    ca = TestCA(lab.path("ca"))                     # CA key + self-signed CA cert
    good = ca.issue("contoso.example")              # DNS-ID + id-on-xmppAddr + SRV-ID
    dns_only = ca.issue("contoso.example", xmpp_addr=False, srv_id=False)
    wrong = ca.issue("wrong.example")               # valid chain, wrong name
    expired = ca.issue("contoso.example", expired=True, tag="expired")
    rogue = TestCA(lab.path("rogue"), name="rogue CA").issue("contoso.example")  # untrusted chain
    ca.cafile                                        # PEM to trust

issue() returns a Cert with .cert, .key (PEM paths), .chain (leaf + CA),
.name and .sans. Certificates carry serverAuth and clientAuth (s2s peers use
the same certificate in both roles, RFC 6120 section 13.7.1.1). Identifiers
follow RFC 6120 section 13.7.1.2 / RFC 6125: DNS-ID (subjectAltName dNSName),
SRV-ID (otherName 1.3.6.1.5.5.7.8.7, "_xmpp-server.<domain>", RFC 4985) and
id-on-xmppAddr (otherName 1.3.6.1.5.5.7.8.5, UTF8String). The CN is set to
the name as well unless cn=False.

Keys are P-256 (fast to make). Key files are mode 0640 group prosody (when
that group exists) so Prosody, which runs as user prosody, can read them;
certificates are 0644.
"""

import grp
import os
import subprocess

from .netns import HarnessError

OID_XMPPADDR = "1.3.6.1.5.5.7.8.5"
OID_SRVNAME = "1.3.6.1.5.5.7.8.7"


def _openssl(args, cwd=None):
    try:
        res = subprocess.run(["openssl"] + args, capture_output=True, text=True, timeout=30, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError("openssl timed out: %s" % " ".join(args)) from exc
    if res.returncode != 0:
        raise HarnessError("openssl %s failed:\n%s%s" % (" ".join(args), res.stdout, res.stderr))
    return res.stdout


def _prosody_gid():
    try:
        return grp.getgrnam("prosody").gr_gid
    except KeyError:
        return None


def _protect_key(path):
    gid = _prosody_gid()
    if gid is not None:
        os.chown(path, 0, gid)
        os.chmod(path, 0o640)
    else:
        os.chmod(path, 0o644)


class Cert:
    """Paths of one issued certificate and its key."""

    def __init__(self, name, cert, key, chain, sans):
        self.name = name
        self.cert = cert
        self.key = key
        self.chain = chain
        self.sans = sans

    def __repr__(self):
        return "<Cert %s %s>" % (self.name, ",".join(self.sans))


class TestCA:
    """A throw-away certificate authority in directory `directory`."""

    __test__ = False  # not a pytest class

    def __init__(self, directory, name="xfed test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        self.name = name
        self.key = os.path.join(directory, "ca.key")
        self.cafile = os.path.join(directory, "ca.pem")
        self._serial = 1
        os.makedirs(os.path.join(directory, "issued"), exist_ok=True)
        with open(os.path.join(directory, "index.txt"), "w"):
            pass
        with open(os.path.join(directory, "ca.cnf"), "w") as f:
            f.write(self._ca_config())
        _openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.key])
        os.chmod(self.key, 0o600)
        _openssl(["req", "-new", "-x509", "-key", self.key, "-out", self.cafile, "-days", "3650",
                  "-subj", "/O=xfed tests/CN=%s" % name, "-config", os.path.join(directory, "ca.cnf"),
                  "-extensions", "v3_ca", "-sha256"])
        os.chmod(self.cafile, 0o644)

    def _ca_config(self):
        d = self.dir
        return """
[ ca ]
default_ca = testca
[ testca ]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/issued
serial = {d}/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = optional
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
""".format(d=d)

    def issue(self, name, dns=None, xmpp_addr=True, srv_id=True, extra_sans=(), cn=True,
              expired=False, not_yet_valid=False, days=30, tag=None, server_auth=True, client_auth=True):
        """Issue a certificate for domain `name`; returns a Cert.

        dns: list of DNS-IDs (default [name]; wildcards like "*.example" allowed).
        xmpp_addr / srv_id: add id-on-xmppAddr / SRV-ID (_xmpp-server.<name>) for
        `name` (True), for a list of names, or not at all (False).
        extra_sans: raw openssl subjectAltName items ("IP:10.254.0.10", ...).
        expired: valid 2020-01-01..2020-01-02 only. not_yet_valid: from 2099.
        tag: file name stem (default: name); use it to keep variants apart.
        """
        stem = os.path.join(self.dir, tag or name)
        dns = [name] if dns is None else list(dns)
        sans = ["DNS:%s" % d for d in dns]
        xa = [name] if xmpp_addr is True else list(xmpp_addr or [])
        sv = [name] if srv_id is True else list(srv_id or [])
        sans += ["otherName:%s;UTF8:%s" % (OID_XMPPADDR, x) for x in xa]
        sans += ["otherName:%s;IA5STRING:_xmpp-server.%s" % (OID_SRVNAME, s) for s in sv]
        sans += list(extra_sans)
        eku = [e for e, on in (("serverAuth", server_auth), ("clientAuth", client_auth)) if on]
        ext = ["[ leaf ]", "basicConstraints = critical, CA:false",
               "keyUsage = critical, digitalSignature, keyEncipherment",
               "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid"]
        if eku:
            ext.append("extendedKeyUsage = " + ", ".join(eku))
        if sans:
            ext.append("subjectAltName = " + ", ".join(sans))
        extfile = stem + ".ext"
        with open(extfile, "w") as f:
            f.write("\n".join(ext) + "\n")
        key, csr, crt = stem + ".key", stem + ".csr", stem + ".pem"
        _openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
        subj = "/O=xfed tests" + ("/CN=%s" % name if cn else "")
        _openssl(["req", "-new", "-key", key, "-out", csr, "-subj", subj, "-config", os.path.join(self.dir, "ca.cnf")])
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("%04X\n" % self._serial)
        self._serial += 1
        args = ["ca", "-batch", "-notext", "-config", os.path.join(self.dir, "ca.cnf"), "-name", "testca",
                "-cert", self.cafile, "-keyfile", self.key, "-in", csr, "-out", crt,
                "-extfile", extfile, "-extensions", "leaf"]
        if expired:
            args += ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]
        elif not_yet_valid:
            args += ["-startdate", "20990101000000Z", "-enddate", "20991231000000Z"]
        else:
            args += ["-days", str(days)]
        _openssl(args)
        with open(crt) as f:
            leaf = f.read()
        with open(self.cafile) as f:
            root = f.read()
        chain = stem + ".chain.pem"
        with open(chain, "w") as f:
            f.write(leaf + root)
        for p in (crt, chain):
            os.chmod(p, 0o644)
        _protect_key(key)
        os.unlink(csr)
        return Cert(name, crt, key, chain, sans)

    def verify(self, cert):
        """openssl verify cert (Cert or path) against this CA; returns (ok, output)."""
        path = cert.cert if isinstance(cert, Cert) else cert
        res = subprocess.run(["openssl", "verify", "-CAfile", self.cafile, path], capture_output=True, text=True,
                             timeout=30)
        return res.returncode == 0, (res.stdout + res.stderr).strip()

    @staticmethod
    def text(cert):
        """`openssl x509 -text` of a Cert or path (for assertions and debugging)."""
        path = cert.cert if isinstance(cert, Cert) else cert
        return _openssl(["x509", "-noout", "-text", "-in", path])
