#!/usr/bin/python3
"""`xfedctl check [DIR]` on hand-edited files, like `nginx -t`: every error
with xfed.conf:LINE, exit 1; a valid file says so with its version, exit 0.
Commands that change the configuration refuse to work on an invalid file."""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import REJECTED, XfedctlCase, main


def line_of(text, needle):
    """1-based number of the first line containing needle."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in file" % needle)


class CheckValid(XfedctlCase):
    def test_fresh_configuration_is_valid(self):
        r = self.run_ok("check", self.dir)
        self.assertIn("configuration %s version 1 is valid" % self.conf_path, r.out)

    def test_default_directory_is_the_c_option(self):
        self.run_ok("partner", "new", "fabrikam.com")
        r = self.run_ok("check")
        self.assertIn("version 2 is valid", r.out)

    def test_warnings_do_not_fail_the_check(self):
        text = self.conf_text()
        start = line_of(text, "dialback_secret")
        lines = text.split("\n")
        del lines[start - 1]
        self.write_conf("\n".join(lines))
        r = self.run_ok("check", self.dir)
        self.assertIn("warning: dialback_secret is not set", r.err)
        self.assertIn("is valid", r.out)

    def test_a_file_may_be_named_directly(self):
        r = self.run_ok("check", self.conf_path)
        self.assertIn("is valid", r.out)


class CheckHandEdits(XfedctlCase):
    def setUp(self):
        super().setUp()
        self.run_ok("partner", "new", "fabrikam.com", "--sasl", "Optional")

    def edit(self, pairs):
        text = self.conf_text()
        for old, new in pairs:
            self.assertIn(old, text)
            text = text.replace(old, new, 1)
        self.write_conf(text)
        return text

    def assert_errors_at(self, r, text, needles):
        self.assertEqual(r.code, REJECTED, r)
        for needle, message in needles:
            line = line_of(text, needle)
            self.assertIn("xfed.conf:%d: error: %s" % (line, message), r.err, r)
        self.assertIn("is not valid", r.err)
        self.assertEqual(r.out, "")

    def test_unknown_key_wrong_type_and_out_of_range(self):
        text = self.edit([
            ("settings = {\n", "settings = {\n  bogus_key = 1;\n"),
            ("keepalive_interval = 300;", 'keepalive_interval = "300";'),
            ("establish_timeout = 60;", "establish_timeout = 1;"),
        ])
        r = self.xfedctl("check", self.dir)
        self.assert_errors_at(r, text, [
            ("bogus_key", "unknown setting 'bogus_key'"),
            ("keepalive_interval", "keepalive_interval must be a whole number"),
            ("establish_timeout", "establish_timeout must be between 5 and 600 (found 1)"),
        ])
        self.assertEqual(r.err.count("error:"), 3, r)

    def test_errors_inside_a_partner(self):
        text = self.edit([
            ('tls = "Required";', 'tls = "Sometimes";'),
            ("keepalive = true;", "keepalive = true;\n    colour = \"blue\";"),
            ("dialback = true;", 'dialback = "yes";'),
        ])
        r = self.xfedctl("check", self.dir)
        self.assert_errors_at(r, text, [
            ("Sometimes", "tls must be Required, Optional or NotSupported"),
            ("colour", "unknown key 'colour' in a partner"),
            ('dialback = "yes"', "dialback must be true or false"),
        ])

    def test_unknown_top_level_key_and_bad_domain(self):
        text = self.edit([
            ("hosted_domains = [", 'colour = "blue";\nhosted_domains = [ "*.contoso.com", '),
        ])
        r = self.xfedctl("check", self.dir)
        self.assert_errors_at(r, text, [
            ("colour", "unknown key 'colour'"),
            ("*.contoso.com", "hosted domain '*.contoso.com' contains a wildcard"),
        ])

    def test_syntax_error_has_its_line(self):
        text = self.edit([("max_connections = 1000;", "max_connections = = 1000;")])
        r = self.xfedctl("check", self.dir)
        line = line_of(text, "max_connections = = 1000")
        self.assertEqual(r.code, REJECTED, r)
        self.assertIn("xfed.conf:%d: error: syntax error" % line, r.err)

    def test_cross_record_errors_are_reported(self):
        # Two partners with the same domain: each record is fine on its own.
        text = self.conf_text()
        start = text.index("  {\n    domain")
        end = text.index("  }", start) + 3
        text = text[:start] + text[start:end] + ",\n" + text[start:]
        self.write_conf(text)
        r = self.run_code(REJECTED, "check", self.dir)
        self.assertIn("partner 'fabrikam.com': domain 'fabrikam.com' is already a partner", r.err)
        self.assertIn("xfed.conf", r.err)

    def test_relations_between_settings(self):
        self.edit([("inactivity_timeout = 600;", "inactivity_timeout = 200;")])
        r = self.run_code(REJECTED, "check", self.dir)
        self.assertIn("inactivity_timeout (200) must be greater than keepalive_interval (300)",
                      r.err)

    def test_changes_refuse_an_invalid_stored_file(self):
        self.edit([("settings = {\n", "settings = {\n  bogus_key = 1;\n")])
        before = self.conf_bytes()
        for args in (("partner", "new", "litware.com"), ("settings", "set", "max_connections",
                                                         "10"), ("hosted", "add", "x.example")):
            r = self.run_code(REJECTED, *args)
            self.assertIn("unknown setting 'bogus_key'", r.err)
            self.assertIn("not valid; nothing was changed", r.err)
        self.assertEqual(self.conf_bytes(), before)

    def test_missing_file(self):
        os.unlink(self.conf_path)
        r = self.run_code(REJECTED, "check", self.dir)
        self.assertIn("cannot read", r.err)


if __name__ == "__main__":
    main()
