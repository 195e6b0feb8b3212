#!/usr/bin/python3
"""Domain names through `xfedctl partner new`: IDNA2008 normalisation, length
limits, wildcards, ports, and uniqueness across partners and hosted domains.
Every refusal exits 1 and leaves the stored file byte-for-byte unchanged."""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import XfedctlCase, main

BUECHER_U = "b\u00fccher.example"
BUECHER_A = "xn--bcher-kva.example"


class IdnDomains(XfedctlCase):
    def test_u_label_input_is_stored_normalised(self):
        r = self.run_ok("partner", "new", "B\u00dcCHER.Example", "--sasl", "Optional")
        self.assertIn("created partner %s" % BUECHER_U, r.out)
        self.assertIn(BUECHER_U, self.partners())
        self.assertIn('domain = "%s";' % BUECHER_U, self.conf_text())
        # The detailed view also shows the A-label form used in DNS.
        r = self.run_ok("partner", "get", BUECHER_U)
        self.assertIn(BUECHER_A, r.out)

    def test_a_label_of_an_existing_u_label_is_a_duplicate(self):
        self.run_ok("partner", "new", BUECHER_U)
        self.assert_rejected_unchanged(("partner", "new", BUECHER_A),
                                       "domain '%s' is already a partner" % BUECHER_U)
        self.assert_rejected_unchanged(("partner", "new", BUECHER_A.upper()),
                                       "already a partner")

    def test_a_label_input_is_stored_as_u_label(self):
        self.run_ok("partner", "new", BUECHER_A)
        self.assertEqual(list(self.partners()), [BUECHER_U])
        self.assert_rejected_unchanged(("partner", "new", BUECHER_U), "already a partner")

    def test_invalid_idn_is_refused(self):
        # U+00DF is valid; a lone combining mark at the start of a label is not.
        self.assert_rejected_unchanged(("partner", "new", "\u0301bad.example"),
                                       "is not a valid internationalised domain name")


class DomainShape(XfedctlCase):
    def test_name_longer_than_253_octets(self):
        name = ".".join(["a" * 63] * 4)  # 255 octets
        self.assertGreaterEqual(len(name), 254)
        self.assert_rejected_unchanged(("partner", "new", name), "longer than 253 octets")

    def test_label_longer_than_63_octets(self):
        self.assert_rejected_unchanged(("partner", "new", "a" * 64 + ".example"),
                                       "has a label longer than 63 octets")

    def test_wildcard(self):
        self.assert_rejected_unchanged(("partner", "new", "*.example.com"),
                                       "primary domain '*.example.com' contains a wildcard")

    def test_port(self):
        self.assert_rejected_unchanged(("partner", "new", "example.com:5269"),
                                       "contains a port")

    def test_single_label_and_address(self):
        self.assert_rejected_unchanged(("partner", "new", "localhost"), "at least two labels")
        self.assert_rejected_unchanged(("partner", "new", "192.0.2.1"), "is an address")

    def test_bad_additional_domain(self):
        self.assert_rejected_unchanged(
            ("partner", "new", "fabrikam.com", "--additional-domains", "ok.example,*.x.example"),
            "additional domain '*.x.example' contains a wildcard")


class Uniqueness(XfedctlCase):
    def setUp(self):
        super().setUp()
        self.run_ok("partner", "new", "fabrikam.com", "--additional-domains", "fabrikam.net")

    def test_duplicate_primary_is_case_insensitive(self):
        self.assert_rejected_unchanged(("partner", "new", "FABRIKAM.com"),
                                       "domain 'fabrikam.com' is already a partner")

    def test_additional_domain_equal_to_another_primary(self):
        self.assert_rejected_unchanged(
            ("partner", "new", "litware.com", "--additional-domains", "Fabrikam.COM"),
            "domain 'fabrikam.com' is already a partner")

    def test_primary_equal_to_another_additional(self):
        self.assert_rejected_unchanged(
            ("partner", "new", "fabrikam.net"),
            "domain 'fabrikam.net' is already an additional domain of partner 'fabrikam.com'")

    def test_additional_equal_to_another_additional(self):
        self.assert_rejected_unchanged(
            ("partner", "new", "litware.com", "--additional-domains", "fabrikam.net"),
            "already an additional domain of partner 'fabrikam.com'")

    def test_additional_equal_to_own_primary_or_repeated(self):
        self.assert_rejected_unchanged(
            ("partner", "new", "litware.com", "--additional-domains", "litware.com"),
            "additional domain 'litware.com' is the primary domain")
        self.assert_rejected_unchanged(
            ("partner", "new", "litware.com", "--additional-domains", "a.example,A.example"),
            "additional domain 'a.example' is listed twice")

    def test_set_adding_another_partners_domain(self):
        self.run_ok("partner", "new", "litware.com")
        self.assert_rejected_unchanged(
            ("partner", "set", "litware.com", "--add-additional-domain", "fabrikam.com"),
            "domain 'fabrikam.com' is already a partner")

    def test_hosted_domain_claimed_by_a_partner(self):
        self.assert_rejected_unchanged(
            ("partner", "new", "Contoso.com"),
            "domain 'contoso.com' is a hosted domain of this deployment and cannot be a partner")
        self.assert_rejected_unchanged(
            ("partner", "new", "litware.com", "--additional-domains", "contoso.com"),
            "is a hosted domain")

    def test_hosting_a_partner_domain_is_refused(self):
        self.assert_rejected_unchanged(
            ("hosted", "add", "fabrikam.net"),
            "partner 'fabrikam.com': domain 'fabrikam.net' is a hosted domain of this deployment")

    def test_several_problems_are_all_reported(self):
        r = self.assert_rejected_unchanged(
            ("partner", "new", "fabrikam.com", "--tls", "NotSupported", "--additional-domains",
             "contoso.com"),
            "already a partner", "is a hosted domain", "SASL requires TLS")
        self.assertGreaterEqual(r.err.count("error:"), 3)


if __name__ == "__main__":
    main()
