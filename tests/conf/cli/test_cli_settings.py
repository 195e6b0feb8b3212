#!/usr/bin/python3
"""`xfedctl settings get|set` over the table of conf/conf_settings.c, with
range errors refused as a whole, and the dialback secret never printed."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import REJECTED, USAGE, XfedctlCase, main

DEFAULTS = {
    "max_connections": "1000",
    "max_connections_per_partner": "20",
    "log_message_bodies": "false",
    "keepalive_interval": "300",
    "establish_timeout": "60",
    "inactivity_timeout": "600",
    "subscription_refresh": "28800",
}


class Settings(XfedctlCase):
    def secret(self):
        m = re.search(r'dialback_secret = "([^"]*)";', self.conf_text())
        return m.group(1) if m else None

    def assert_secret_hidden(self, r):
        secret = self.secret()
        self.assertTrue(secret)
        self.assertNotIn(secret, r.out)
        self.assertNotIn(secret, r.err)

    def test_get_all_shows_defaults_and_hides_the_secret(self):
        r = self.run_ok("settings", "get")
        values = dict(l.split(" = ", 1) for l in r.out.splitlines())
        for k, v in DEFAULTS.items():
            self.assertEqual(values[k], v, k)
        self.assertEqual(values["dialback_secret"], "(set)")
        self.assert_secret_hidden(r)

    def test_get_one_key(self):
        self.assertEqual(self.run_ok("settings", "get", "keepalive_interval").out, "300\n")
        r = self.run_ok("settings", "get", "dialback_secret")
        self.assertEqual(r.out, "(set)\n")
        self.assert_secret_hidden(r)
        self.run_code(REJECTED, "settings", "get", "no_such_key")

    def test_get_json(self):
        r = self.run_ok("settings", "get", "--json")
        data = json.loads(r.out)
        self.assertEqual(data["keepalive_interval"], 300)
        self.assertIs(data["log_message_bodies"], False)
        self.assertIs(data["dialback_secret_set"], True)
        self.assertNotIn("dialback_secret", data)
        self.assert_secret_hidden(r)
        one = json.loads(self.run_ok("settings", "get", "establish_timeout", "--json").out)
        self.assertEqual(one, {"establish_timeout": 60})
        one = json.loads(self.run_ok("settings", "get", "dialback_secret", "--json").out)
        self.assertEqual(one, {"dialback_secret_set": True})

    def test_set_several_keys_in_one_version(self):
        v = self.version()
        r = self.run_ok("settings", "set", "keepalive_interval", "120", "max_connections",
                        "2000", "log_message_bodies", "TRUE")
        self.assertIn("configuration version %d" % (v + 1), r.out)
        self.assertEqual(self.version(), v + 1)
        data = json.loads(self.run_ok("settings", "get", "--json").out)
        self.assertEqual((data["keepalive_interval"], data["max_connections"],
                          data["log_message_bodies"]), (120, 2000, True))

    def test_range_errors_refuse_every_change(self):
        r = self.assert_rejected_unchanged(
            ("settings", "set", "max_connections", "2000", "keepalive_interval", "5"),
            "error: keepalive_interval: must be between 10 and 3600")
        self.assertEqual(r.out, "")
        self.assert_rejected_unchanged(("settings", "set", "establish_timeout", "many"),
                                       "error: establish_timeout: must be a whole number")
        self.assert_rejected_unchanged(("settings", "set", "--", "establish_timeout", "-5"),
                                       "must be a whole number")
        self.assert_rejected_unchanged(("settings", "set", "log_message_bodies", "perhaps"),
                                       "must be true or false")
        self.assert_rejected_unchanged(("settings", "set", "colour", "blue"),
                                       "error: colour: unknown setting")

    def test_relations_between_settings_are_refused(self):
        self.assert_rejected_unchanged(
            ("settings", "set", "max_connections_per_partner", "2000"),
            "max_connections_per_partner (2000) must not exceed max_connections (1000)")
        self.assert_rejected_unchanged(
            ("settings", "set", "keepalive_interval", "600"),
            "inactivity_timeout (600) must be greater than keepalive_interval (600)")

    def test_secret_set_from_the_command_line(self):
        r = self.run_ok("settings", "set", "dialback_secret", "0123456789abcdef-secret")
        self.assertEqual(self.secret(), "0123456789abcdef-secret")
        self.assert_secret_hidden(r)
        r = self.assert_rejected_unchanged(("settings", "set", "dialback_secret", "short"),
                                           "dialback_secret: must be 16 to 256 characters")
        self.assertNotIn("short", r.err.replace("dialback_secret", ""))

    def test_secret_read_from_stdin(self):
        r = self.xfedctl("settings", "set", "dialback_secret", "-",
                         stdin_text="from-stdin-0123456789\n")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.secret(), "from-stdin-0123456789")
        self.assert_secret_hidden(r)
        before = self.conf_bytes()
        r = self.xfedctl("settings", "set", "dialback_secret", "-", stdin_text="")
        self.assertEqual(r.code, 1, r)
        self.assertIn("must be 16 to 256 characters", r.err)
        r = self.xfedctl("settings", "set", "dialback_secret", "-", stdin_text="x" * 300)
        self.assertEqual(r.code, 1, r)
        self.assertEqual(self.conf_bytes(), before)

    def test_secret_generate(self):
        old = self.secret()
        v = self.version()
        r = self.run_ok("settings", "set", "dialback_secret", "--generate")
        new = self.secret()
        self.assertRegex(new, r"^[0-9a-f]{64}$")
        self.assertNotEqual(new, old)
        self.assertIn("dialback_secret = (set) (generated)", r.out)
        self.assert_secret_hidden(r)
        self.assertEqual(self.version(), v + 1)
        # With other pairs, in either order.
        self.run_ok("settings", "set", "--generate", "keepalive_interval", "100",
                    "dialback_secret")
        self.assertNotEqual(self.secret(), new)

    def test_usage_errors(self):
        self.assert_rejected_unchanged(("settings", "set", "keepalive_interval"),
                                       "missing value for 'keepalive_interval'", code=USAGE)
        self.assert_rejected_unchanged(("settings", "set"), "missing KEY VALUE", code=USAGE)
        self.assert_rejected_unchanged(("settings", "set", "--generate", "max_connections", "5"),
                                       "--generate needs the key dialback_secret", code=USAGE)


if __name__ == "__main__":
    main()
