#!/usr/bin/python3
"""`xfedctl partner set|get|remove`: changing fields, additional domains,
static routes, the text table, --filter and --json views, and removal."""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import REJECTED, USAGE, XfedctlCase, main


class PartnerNewDefaults(XfedctlCase):
    def test_defaults_of_design_section_2(self):
        self.run_ok("partner", "new", "fabrikam.com")
        p = self.partner("fabrikam.com")
        self.assertEqual(p, {
            "domain": "fabrikam.com", "description": "", "additional_domains": [],
            "type": "PublicUnverified", "tls": "Required", "sasl": "Required",
            "dialback": True, "connection_limit": 0, "effective_connection_limit": 20,
            "keepalive": True, "proxy_fqdn": None})

    def test_every_option(self):
        self.run_ok("partner", "new", "fabrikam.com", "--description", "Fabrikam \"XMPP\"",
                    "--additional-domains", "fabrikam.net, Fabrikam.ORG", "--type",
                    "publicverified", "--tls", "OPTIONAL", "--sasl", "NotSupported",
                    "--dialback", "TRUE", "--connection-limit", "7", "--keepalive", "false",
                    "--proxy-fqdn", "xmpp.fabrikam.com:5270")
        p = self.partner("fabrikam.com")
        self.assertEqual(p["description"], 'Fabrikam "XMPP"')
        self.assertEqual(p["additional_domains"], ["fabrikam.net", "fabrikam.org"])
        self.assertEqual((p["type"], p["tls"], p["sasl"], p["dialback"]),
                         ("PublicVerified", "Optional", "NotSupported", True))
        self.assertEqual((p["connection_limit"], p["effective_connection_limit"]), (7, 7))
        self.assertEqual((p["keepalive"], p["proxy_fqdn"]), (False, "xmpp.fabrikam.com:5270"))

    def test_out_of_range_values_are_refused(self):
        self.assert_rejected_unchanged(("partner", "new", "a.example", "--connection-limit",
                                        "100001"), "connection limit must be between 0")
        self.assert_rejected_unchanged(("partner", "new", "a.example", "--description",
                                        "x" * 1025), "description is longer than 1024 bytes")
        self.assert_rejected_unchanged(("partner", "new", "a.example", "--description",
                                        "two\nlines"), "description contains control characters")
        self.assert_rejected_unchanged(("partner", "new", "a.example", "--proxy-fqdn",
                                        "host.example:0"), "--proxy-fqdn")
        self.assert_rejected_unchanged(("partner", "new", "a.example", "--proxy-fqdn",
                                        "*.example:5269"), "contains a wildcard")


class PartnerSet(XfedctlCase):
    def setUp(self):
        super().setUp()
        self.run_ok("partner", "new", "fabrikam.com", "--description", "first",
                    "--additional-domains", "fabrikam.net", "--proxy-fqdn", "xmpp.fabrikam.com")

    def test_unnamed_fields_keep_their_value(self):
        v = self.version()
        r = self.run_ok("partner", "set", "FABRIKAM.com", "--type", "Federated")
        self.assertIn("changed partner fabrikam.com (configuration version %d)" % (v + 1), r.out)
        p = self.partner("fabrikam.com")
        self.assertEqual((p["type"], p["description"], p["additional_domains"], p["proxy_fqdn"]),
                         ("Federated", "first", ["fabrikam.net"], "xmpp.fabrikam.com"))

    def test_add_remove_and_clear_additional_domains(self):
        self.run_ok("partner", "set", "fabrikam.com", "--add-additional-domain", "fabrikam.org",
                    "--add-additional-domain", "B\u00dcCHER.example")
        self.assertEqual(self.partner("fabrikam.com")["additional_domains"],
                         ["fabrikam.net", "fabrikam.org", "b\u00fccher.example"])
        self.run_ok("partner", "set", "fabrikam.com", "--remove-additional-domain",
                    "xn--bcher-kva.example")
        self.assertEqual(self.partner("fabrikam.com")["additional_domains"],
                         ["fabrikam.net", "fabrikam.org"])
        # An additional domain also finds its partner in `get`.
        self.assertEqual(self.partner("fabrikam.org")["domain"], "fabrikam.com")
        self.run_ok("partner", "set", "fabrikam.com", "--clear-additional-domains")
        self.assertEqual(self.partner("fabrikam.com")["additional_domains"], [])
        self.run_ok("partner", "set", "fabrikam.com", "--additional-domains", "a.example,b.example")
        self.assertEqual(self.partner("fabrikam.com")["additional_domains"],
                         ["a.example", "b.example"])

    def test_removing_an_absent_additional_domain_is_refused(self):
        self.assert_rejected_unchanged(("partner", "set", "fabrikam.com",
                                        "--remove-additional-domain", "nope.example"),
                                       "nope.example is not an additional domain of partner "
                                       "fabrikam.com")

    def test_adding_a_listed_additional_domain_is_refused(self):
        self.assert_rejected_unchanged(("partner", "set", "fabrikam.com",
                                        "--add-additional-domain", "fabrikam.net"),
                                       "additional domain 'fabrikam.net' is listed twice")

    def test_clear_static_route(self):
        self.run_ok("partner", "set", "fabrikam.com", "--proxy-fqdn", "")
        self.assertIsNone(self.partner("fabrikam.com")["proxy_fqdn"])
        self.run_ok("partner", "set", "fabrikam.com", "--proxy-fqdn", "192.0.2.10:5270")
        self.assertEqual(self.partner("fabrikam.com")["proxy_fqdn"], "192.0.2.10:5270")
        self.run_ok("partner", "set", "fabrikam.com", "--proxy-fqdn", "[2001:db8::10]:5270")
        self.assertEqual(self.partner("fabrikam.com")["proxy_fqdn"], "[2001:db8::10]:5270")
        self.assertIn("proxy fqdn:          [2001:db8::10]:5270",
                      self.run_ok("partner", "get", "fabrikam.com").out)
        self.run_ok("check")

    def test_unknown_partner(self):
        self.assert_rejected_unchanged(("partner", "set", "nope.example", "--type", "Federated"),
                                       "no partner nope.example")
        self.assert_rejected_unchanged(("partner", "set", "fabrikam.net", "--type", "Federated"),
                                       "fabrikam.net is an additional domain of partner "
                                       "fabrikam.com")

    def test_nothing_to_change_is_a_usage_error(self):
        self.assert_rejected_unchanged(("partner", "set", "fabrikam.com"), "nothing to change",
                                       code=USAGE)


class PartnerGetRemove(XfedctlCase):
    def setUp(self):
        super().setUp()
        for d in ("fabrikam.com", "litware.org", "adatum.org", "b\u00fccher.example"):
            self.run_ok("partner", "new", d, "--sasl", "Optional")
        self.run_ok("partner", "set", "litware.org", "--additional-domains", "litware.net")

    def test_table(self):
        r = self.run_ok("partner", "get")
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["DOMAIN", "TYPE", "TLS", "SASL", "DIALBACK",
                                            "ADDITIONAL", "DOMAINS"])
        self.assertEqual(len(lines), 5)
        row = [l for l in lines if l.startswith("litware.org")][0].split()
        self.assertEqual(row, ["litware.org", "PublicUnverified", "Required", "Optional", "true",
                               "litware.net"])
        # Columns line up, also after an IDN.
        col = lines[0].index("TYPE")
        for l in lines[1:]:
            self.assertEqual(l[col - 2:col], "  ", l)
            self.assertNotEqual(l[col], " ", l)

    def test_filter(self):
        r = self.run_ok("partner", "get", "--filter", "*.ORG")
        self.assertEqual(sorted(l.split()[0] for l in r.out.splitlines()[1:]),
                         ["adatum.org", "litware.org"])
        r = self.run_ok("partner", "get", "--filter", "*.org", "--json")
        self.assertEqual(sorted(p["domain"] for p in json.loads(r.out)),
                         ["adatum.org", "litware.org"])
        r = self.run_ok("partner", "get", "--filter", "*.invalid")
        self.assertEqual(r.out, "")
        self.assertEqual(json.loads(self.run_ok("partner", "get", "--filter", "none*",
                                                "--json").out), [])

    def test_json(self):
        data = json.loads(self.run_ok("partner", "get", "--json").out)
        self.assertEqual(len(data), 4)
        self.assertEqual({p["domain"] for p in data},
                         {"fabrikam.com", "litware.org", "adatum.org", "b\u00fccher.example"})
        one = json.loads(self.run_ok("partner", "get", "litware.org", "--json").out)
        self.assertEqual(one["additional_domains"], ["litware.net"])

    def test_detail(self):
        r = self.run_ok("partner", "get", "litware.org")
        self.assertIn("additional domains:  litware.net", r.out)
        self.assertIn("negotiation:         matrix row 7", r.out)
        self.run_code(REJECTED, "partner", "get", "nope.example")
        self.run_code(USAGE, "partner", "get", "litware.org", "--filter", "*")

    def test_remove(self):
        v = self.version()
        r = self.run_ok("partner", "remove", "LITWARE.org")
        self.assertIn("removed partner litware.org (configuration version %d)" % (v + 1), r.out)
        self.assertNotIn("litware.org", self.partners())
        # Its additional domain is free again.
        self.run_ok("partner", "new", "litware.net")
        self.assert_rejected_unchanged(("partner", "remove", "litware.org"),
                                       "no partner litware.org")
        self.run_ok("partner", "remove", "xn--bcher-kva.example")
        self.assertEqual(sorted(self.partners()), ["adatum.org", "fabrikam.com", "litware.net"])


if __name__ == "__main__":
    main()
