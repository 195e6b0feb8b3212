"""Shared helpers for the xfedctl command-level tests.

Every test case gets a fresh configuration directory created with
`xfedctl -c DIR init --hosted-domain contoso.com` and removed afterwards.
XFED_BIN (set by ctest through xfed_script_test) names the directory that
holds the xfedctl binary; XFED_SRC the source tree.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("XFED_BIN")
SRC = os.environ.get("XFED_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if not BIN:
    sys.exit("XFED_BIN is not set (run through ctest)")
XFEDCTL = os.path.join(BIN, "xfedctl")
LYNC_DATA = os.path.join(SRC, "tests", "conf", "data", "lync")

# Exit codes of common/exitcodes.h.
OK, REJECTED, USAGE, SYSTEM = 0, 1, 2, 3

# The negotiation matrix of DESIGN.md section 2, with the stable messages of
# conf/conf_validate.c.
MSG_SASL_NEEDS_TLS = ("SASL requires TLS: set TLS to Required or Optional, "
                      "or SASL to NotSupported")
MSG_NO_AUTH = "SASL or dialback must be enabled"
MSG_DIALBACK_UNUSED = "dialback will never be used"
MSG_NO_TLS_NO_SASL = "a partner that does not offer TLS cannot use SASL"
NEGOTIATION = ["Required", "Optional", "NotSupported"]


def matrix_row(tls, sasl, dialback):
    """Row number as in the Lync 2013 matrix: SASL blocks of six, TLS pairs
    inside them, dialback true before false."""
    return 1 + NEGOTIATION.index(sasl) * 6 + NEGOTIATION.index(tls) * 2 + (0 if dialback else 1)


def matrix_expectation(tls, sasl, dialback):
    """(outcome, message) per DESIGN.md: outcome 'saved', 'warning' or
    'rejected'."""
    if tls == "NotSupported" and sasl != "NotSupported":
        return "rejected", MSG_SASL_NEEDS_TLS
    if sasl == "NotSupported" and not dialback:
        return "rejected", MSG_NO_AUTH
    if tls == "Required" and sasl == "Required" and dialback:
        return "warning", MSG_DIALBACK_UNUSED
    if tls == "Optional" and sasl != "NotSupported":
        return "warning", MSG_NO_TLS_NO_SASL
    return "saved", ""


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return "exit %d\n--- stdout\n%s--- stderr\n%s" % (self.code, self.out, self.err)


class XfedctlCase(unittest.TestCase):
    """A test case with its own configuration directory."""

    hosted = ("contoso.com",)
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="xfedctl-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "etc-xfed")
        self.conf_path = os.path.join(self.dir, "xfed.conf")
        args = ["init"]
        for d in self.hosted:
            args += ["--hosted-domain", d]
        r = self.run_ok(*args)
        self.assertIn("created", r.out)

    def xfedctl(self, *args, confdir=None, timeout=60, stdin_text=None):
        cmd = [XFEDCTL, "-c", confdir or self.dir] + [str(a) for a in args]
        io = {"stdin": subprocess.DEVNULL} if stdin_text is None else {"input": stdin_text}
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout,
                              env=dict(os.environ, LC_ALL="C.UTF-8"), encoding="utf-8",
                              errors="replace", **io)
        return Result(proc)

    def run_ok(self, *args, **kw):
        r = self.xfedctl(*args, **kw)
        self.assertEqual(r.code, OK, r)
        return r

    def run_code(self, code, *args, **kw):
        r = self.xfedctl(*args, **kw)
        self.assertEqual(r.code, code, r)
        return r

    def conf_bytes(self):
        with open(self.conf_path, "rb") as f:
            return f.read()

    def conf_text(self):
        return self.conf_bytes().decode("utf-8")

    def write_conf(self, text):
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(text)

    def version(self):
        r = self.run_ok("version")
        return int(r.out.strip())

    def partners(self):
        r = self.run_ok("partner", "get", "--json")
        return {p["domain"]: p for p in json.loads(r.out)}

    def partner(self, domain):
        r = self.run_ok("partner", "get", domain, "--json")
        return json.loads(r.out)

    def assert_rejected_unchanged(self, args, *messages, code=REJECTED):
        """Runs xfedctl args, expects the exit code, every message on
        stderr, and the stored file byte-for-byte as before."""
        before = self.conf_bytes()
        version = self.version()
        r = self.xfedctl(*args)
        self.assertEqual(r.code, code, r)
        for m in messages:
            self.assertIn(m, r.err, r)
        self.assertEqual(self.conf_bytes(), before, "configuration file changed")
        self.assertEqual(self.version(), version)
        return r


def main():
    unittest.main(verbosity=2)
