#!/usr/bin/python3
"""`xfedctl access ...`: the per-user XMPP access policy (a default, rules
per hosted domain and per user) and `access test`, which names the rule
that decided. Also `xfedctl hosted list|add|remove`."""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import REJECTED, USAGE, XfedctlCase, main


class Access(XfedctlCase):
    hosted = ("contoso.com", "b\u00fccher.example")

    def test_show_defaults(self):
        self.assertEqual(self.run_ok("access", "show").out, "default: allow\n")
        self.assertEqual(json.loads(self.run_ok("access", "show", "--json").out),
                         {"default": "allow", "domains": [], "users": []})

    def test_rules_and_which_one_decides(self):
        r = self.run_ok("access", "test", "alice@contoso.com")
        self.assertEqual(r.out, "alice@contoso.com: allow (default)\n")

        self.run_ok("access", "default", "DENY")
        self.assertEqual(self.run_ok("access", "test", "alice@contoso.com").out,
                         "alice@contoso.com: deny (default)\n")

        self.run_ok("access", "domain", "CONTOSO.com", "allow")
        self.assertEqual(self.run_ok("access", "test", "alice@contoso.com").out,
                         "alice@contoso.com: allow (domain rule contoso.com)\n")

        self.run_ok("access", "user", "alice@Contoso.COM", "deny")
        self.assertEqual(self.run_ok("access", "test", "alice@contoso.com").out,
                         "alice@contoso.com: deny (user rule alice@contoso.com)\n")
        self.assertEqual(self.run_ok("access", "test", "bob@contoso.com").out,
                         "bob@contoso.com: allow (domain rule contoso.com)\n")
        # IDN user domains are matched in their normalised form.
        self.run_ok("access", "user", "carol@xn--bcher-kva.example", "allow")
        self.assertEqual(self.run_ok("access", "test", "carol@B\u00dcCHER.example").out,
                         "carol@b\u00fccher.example: allow (user rule carol@b\u00fccher.example)\n")

        data = json.loads(self.run_ok("access", "show", "--json").out)
        self.assertEqual(data, {
            "default": "deny",
            "domains": [{"domain": "contoso.com", "access": "allow"}],
            "users": [{"user": "alice@contoso.com", "access": "deny"},
                      {"user": "carol@b\u00fccher.example", "access": "allow"}]})
        self.assertEqual(self.run_ok("access", "show").out,
                         "default: deny\ndomain contoso.com: allow\n"
                         "user alice@contoso.com: deny\nuser carol@b\u00fccher.example: allow\n")

        # Changing a rule replaces it; clearing it falls back.
        self.run_ok("access", "user", "alice@contoso.com", "allow")
        self.assertIn("allow (user rule", self.run_ok("access", "test", "alice@contoso.com").out)
        self.run_ok("access", "user", "alice@contoso.com", "clear")
        self.assertIn("allow (domain rule contoso.com)",
                      self.run_ok("access", "test", "alice@contoso.com").out)
        self.run_ok("access", "domain", "contoso.com", "clear")
        self.assertIn("deny (default)", self.run_ok("access", "test", "alice@contoso.com").out)
        self.run_ok("check")

    def test_every_change_is_a_version(self):
        v = self.version()
        r = self.run_ok("access", "domain", "contoso.com", "deny")
        self.assertIn("access domain contoso.com: deny (configuration version %d)" % (v + 1),
                      r.out)
        self.assertEqual(self.version(), v + 1)

    def test_rules_need_hosted_domains(self):
        self.assert_rejected_unchanged(("access", "domain", "fabrikam.com", "deny"),
                                       "access rule for 'fabrikam.com': not a hosted domain")
        self.assert_rejected_unchanged(("access", "user", "bob@fabrikam.com", "deny"),
                                       "'fabrikam.com' is not a hosted domain")
        self.assert_rejected_unchanged(("access", "user", "b<b@contoso.com", "deny"),
                                       "which RFC 7622 forbids")
        r = self.run_ok("access", "test", "bob@fabrikam.com")
        self.assertIn("fabrikam.com is not a hosted domain", r.err)

    def test_clearing_a_missing_rule_is_refused(self):
        self.assert_rejected_unchanged(("access", "domain", "contoso.com", "clear"),
                                       "no access rule for domain contoso.com")
        self.assert_rejected_unchanged(("access", "user", "x@contoso.com", "clear"),
                                       "no access rule for user x@contoso.com")

    def test_usage_errors(self):
        self.assert_rejected_unchanged(("access", "default", "maybe"), "is not allow or deny",
                                       code=USAGE)
        self.assert_rejected_unchanged(("access", "default", "clear"), code=USAGE)
        self.assert_rejected_unchanged(("access", "domain", "contoso.com"), code=USAGE)
        self.assert_rejected_unchanged(("access", "user", "nobody", "deny"),
                                       "is not USER@DOMAIN", code=USAGE)
        self.assert_rejected_unchanged(("access", "test", "@contoso.com"), code=USAGE)


class Hosted(XfedctlCase):
    def test_list_add_remove(self):
        self.assertEqual(self.run_ok("hosted", "list").out, "contoso.com\n")
        v = self.version()
        r = self.run_ok("hosted", "add", "Northwind.example")
        self.assertIn("added hosted domain northwind.example (configuration version %d)" %
                      (v + 1), r.out)
        self.assertEqual(self.run_ok("hosted", "list").out,
                         "contoso.com\nnorthwind.example\n")
        self.assert_rejected_unchanged(("hosted", "add", "contoso.com"),
                                       "contoso.com is already a hosted domain")
        self.assert_rejected_unchanged(("hosted", "add", "*.contoso.com"),
                                       "hosted domain '*.contoso.com' contains a wildcard")
        self.run_ok("hosted", "remove", "northwind.example")
        self.assert_rejected_unchanged(("hosted", "remove", "northwind.example"),
                                       "northwind.example is not a hosted domain")
        self.assertEqual(self.run_ok("hosted", "list").out, "contoso.com\n")

    def test_removing_a_domain_with_access_rules_is_refused(self):
        self.run_ok("access", "domain", "contoso.com", "deny")
        self.assert_rejected_unchanged(("hosted", "remove", "contoso.com"),
                                       "access rule for 'contoso.com': not a hosted domain")

    def test_init_on_an_existing_directory_changes_nothing(self):
        before = self.conf_bytes()
        r = self.run_ok("init", "--hosted-domain", "other.example")
        self.assertIn("already exists; nothing was changed", r.out)
        self.assertEqual(self.conf_bytes(), before)

    def test_init_with_a_bad_hosted_domain(self):
        d = os.path.join(self.tmp, "other")
        r = self.run_code(REJECTED, "init", "--hosted-domain", "*.example.com", confdir=d)
        self.assertIn("hosted domain '*.example.com' contains a wildcard", r.err)
        self.assertFalse(os.path.exists(os.path.join(d, "xfed.conf")))


if __name__ == "__main__":
    main()
