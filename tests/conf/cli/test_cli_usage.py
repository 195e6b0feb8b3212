#!/usr/bin/python3
"""xfedctl's command line itself: --help on every command and subcommand
(stdout, exit 0), usage errors (stderr, exit 2), --version, and system
failures (exit 3) for a configuration directory that does not exist."""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import OK, SYSTEM, USAGE, XFEDCTL, XfedctlCase, main

SUBCOMMANDS = {
    "partner": ["new", "set", "get", "remove", "import"],
    "settings": ["get", "set"],
    "hosted": ["list", "add", "remove"],
    "access": ["show", "default", "domain", "user", "test"],
}
SINGLE = ["check", "init", "version"]


class Help(XfedctlCase):
    def test_top_level_help(self):
        for args in (("--help",), ("-h",), ("help",)):
            r = self.run_ok(*args)
            self.assertIn("usage: xfedctl [-c DIR] COMMAND", r.out)
            for group in list(SUBCOMMANDS) + SINGLE:
                self.assertIn("  " + group + " ", r.out)
            self.assertEqual(r.err, "")

    def test_version_option(self):
        r = self.run_ok("--version")
        self.assertRegex(r.out, r"^xfedctl \d+\.\d+\.\d+\n$")

    def test_group_help_lists_subcommands(self):
        for group, subs in SUBCOMMANDS.items():
            for flag in ("--help", "-h", "help"):
                r = self.run_ok(group, flag)
                for s in subs:
                    self.assertIn("xfedctl %s %s" % (group, s), r.out)

    def test_every_subcommand_has_help(self):
        before = self.conf_bytes()
        for group, subs in SUBCOMMANDS.items():
            for s in subs:
                with self.subTest(command="%s %s" % (group, s)):
                    r = self.run_ok(group, s, "--help")
                    self.assertTrue(r.out.startswith("usage: xfedctl %s %s" % (group, s)), r)
                    self.assertIn("Exit:", r.out)
                    self.assertIn("Example: xfedctl", r.out)
                    self.assertEqual(r.err, "")
        for cmd in SINGLE:
            r = self.run_ok(cmd, "--help")
            self.assertTrue(r.out.startswith("usage: xfedctl %s" % cmd), r)
        # --help wins over operands and writes nothing.
        self.run_ok("partner", "new", "fabrikam.com", "--tls", "NotSupported", "--help")
        self.run_ok("partner", "remove", "nothing.example", "-h")
        self.assertEqual(self.conf_bytes(), before)


class UsageErrors(XfedctlCase):
    CASES = [
        (),
        ("frobnicate",),
        ("partner",),
        ("partner", "rename", "a.example"),
        ("partner", "new"),
        ("partner", "new", "a.example", "b.example"),
        ("partner", "new", "a.example", "--colour", "blue"),
        ("partner", "new", "a.example", "--tls"),
        ("partner", "new", "a.example", "--tls", "Sometimes"),
        ("partner", "new", "a.example", "--sasl", "yes"),
        ("partner", "new", "a.example", "--type", "Friendly"),
        ("partner", "new", "a.example", "--dialback", "maybe"),
        ("partner", "new", "a.example", "--keepalive", "often"),
        ("partner", "new", "a.example", "--connection-limit", "-1"),
        ("partner", "new", "a.example", "--connection-limit", "lots"),
        ("partner", "new", "a.example", "--add-additional-domain", "b.example"),
        ("partner", "set"),
        ("partner", "get", "a.example", "b.example"),
        ("partner", "remove"),
        ("partner", "import", "--lync"),
        ("partner", "import", "file.csv"),
        ("settings",),
        ("settings", "get", "a", "b"),
        ("hosted", "add"),
        ("hosted", "list", "extra"),
        ("access", "show", "extra"),
        ("access", "user", "alice@contoso.com"),
        ("check", "a", "b"),
        ("init", "extra"),
        ("version", "extra"),
        ("version", "--colour"),
    ]

    def test_usage_errors_exit_2_and_write_nothing(self):
        before = self.conf_bytes()
        for args in self.CASES:
            with self.subTest(args=args):
                r = self.xfedctl(*args)
                self.assertEqual(r.code, USAGE, r)
                self.assertEqual(r.out, "")
                self.assertIn("usage:", r.err)
        self.assertEqual(self.conf_bytes(), before)

    def test_bad_enumeration_names_the_choices(self):
        r = self.run_code(USAGE, "partner", "new", "a.example", "--tls", "Sometimes")
        self.assertIn("--tls: 'Sometimes' is not Required, Optional or NotSupported", r.err)

    def test_missing_configuration_directory_is_a_system_failure(self):
        missing = os.path.join(self.tmp, "missing")
        for args in (("partner", "get"), ("partner", "new", "a.example"), ("version",),
                     ("settings", "get"), ("access", "show"), ("hosted", "list")):
            r = self.run_code(SYSTEM, *args, confdir=missing)
            self.assertIn("does not exist", r.err)
        self.assertFalse(os.path.exists(missing))

    def test_c_option_comes_before_the_command(self):
        import subprocess
        p = subprocess.run([XFEDCTL, "--config-dir", self.dir, "version"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (OK, "1\n"))


if __name__ == "__main__":
    main()
