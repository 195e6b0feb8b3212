#!/usr/bin/python3
"""`xfedctl partner import --lync FILE.csv`: a realistic Export-Csv file of
Lync Server 2013 (UTF-8 BOM, #TYPE line, quoted fields with "" escapes,
CRLF, an IDN, additional domains, a collection exported as its type name)
is imported with a report; a file with bad rows is refused as a whole with
every bad row's line, and nothing is written."""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import (LYNC_DATA, MSG_NO_TLS_NO_SASL, MSG_SASL_NEEDS_TLS, XfedctlCase,
                             main)

SAMPLE = os.path.join(LYNC_DATA, "partners.csv")
BAD_ROWS = os.path.join(LYNC_DATA, "partners-bad-rows.csv")
UNTERMINATED = os.path.join(LYNC_DATA, "partners-unterminated.csv")
NO_IDENTITY = os.path.join(LYNC_DATA, "partners-no-identity.csv")


class ImportSample(XfedctlCase):
    def test_sample_is_imported_with_a_report(self):
        version = self.version()
        r = self.run_ok("partner", "import", "--lync", SAMPLE)
        self.assertIn("imported fabrikam.com: type Federated, tls Required, sasl Required, "
                      "dialback false, additional domains fabrikam.net fabrikam.org", r.out)
        self.assertIn("imported litwareinc.com: type PublicVerified, tls Optional", r.out)
        self.assertIn("imported b\u00fccher.example:", r.out)
        self.assertIn("imported northwindtraders.com:", r.out)
        self.assertIn("imported 4 partners (configuration version %d)" % (version + 1), r.out)
        # Warnings name the CSV line: row 9 of the matrix on line 4, the
        # collection exported as a type name on line 6.
        self.assertIn("partners.csv:4: warning: %s (matrix row 9)" % MSG_NO_TLS_NO_SASL, r.err)
        self.assertIn("partners.csv:6: warning: AdditionalDomains holds the type name", r.err)
        self.assertEqual(self.version(), version + 1)

        p = self.partners()
        self.assertEqual(sorted(p), sorted(["fabrikam.com", "litwareinc.com",
                                            "b\u00fccher.example", "northwindtraders.com"]))
        f = p["fabrikam.com"]
        self.assertEqual(f["additional_domains"], ["fabrikam.net", "fabrikam.org"])
        self.assertEqual(f["description"], 'Fabrikam, Inc. "main" XMPP servers')
        self.assertEqual((f["type"], f["tls"], f["sasl"], f["dialback"], f["keepalive"]),
                         ("Federated", "Required", "Required", False, True))
        self.assertEqual(f["connection_limit"], 0)
        lw = p["litwareinc.com"]
        self.assertEqual(lw["proxy_fqdn"], "xmpp.litwareinc.com:5270")
        self.assertEqual(lw["connection_limit"], 10)
        self.assertEqual(lw["type"], "PublicVerified")
        b = p["b\u00fccher.example"]
        self.assertEqual((b["keepalive"], b["sasl"]), (False, "NotSupported"))
        nw = p["northwindtraders.com"]
        self.assertEqual(nw["additional_domains"], [])
        self.assertEqual(nw["description"], "Northwind Traders  legacy jabberd2, no TLS")
        self.run_ok("check")

    def test_imported_domains_are_then_duplicates(self):
        self.run_ok("partner", "import", "--lync", SAMPLE)
        self.assert_rejected_unchanged(("partner", "new", "xn--bcher-kva.example"),
                                       "already a partner")
        r = self.assert_rejected_unchanged(("partner", "import", "--lync", SAMPLE),
                                           "partners.csv:3: error: domain 'fabrikam.com' is "
                                           "already a partner")
        self.assertIn("4 of 4 rows refused; nothing was imported", r.err)

    def test_dry_run_writes_nothing(self):
        before = self.conf_bytes()
        r = self.run_ok("partner", "import", "--lync", SAMPLE, "--dry-run")
        self.assertIn("would import fabrikam.com", r.out)
        self.assertIn("dry run: 4 partners would be imported; nothing was written", r.out)
        self.assertEqual(self.conf_bytes(), before)

    def test_clash_with_an_existing_partner_refuses_everything(self):
        self.run_ok("partner", "new", "fabrikam.org")
        r = self.assert_rejected_unchanged(
            ("partner", "import", "--lync", SAMPLE),
            "partners.csv:3: error: domain 'fabrikam.org' is already a partner")
        self.assertIn("1 of 4 rows refused", r.err)
        self.assertEqual(list(self.partners()), ["fabrikam.org"])

    def test_lf_file_without_bom_or_type_line(self):
        path = os.path.join(self.tmp, "plain.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("tlsnegotiation,IDENTITY,saslnegotiation\nOPTIONAL,one.example,notsupported\n")
        r = self.run_ok("partner", "import", "--lync", path)
        self.assertIn("imported one.example: type PublicUnverified, tls Optional, sasl "
                      "NotSupported, dialback true", r.out)


class ImportRefused(XfedctlCase):
    def test_bad_rows_refuse_the_whole_file(self):
        r = self.assert_rejected_unchanged(("partner", "import", "--lync", BAD_ROWS))
        err = r.err
        self.assertIn("partners-bad-rows.csv:3: error: %s (matrix row 5)" % MSG_SASL_NEEDS_TLS,
                      err)
        self.assertIn("partners-bad-rows.csv:4: error: domain 'good.example' is already a "
                      "partner", err)
        self.assertIn('partners-bad-rows.csv:5: error: PartnerType: "Friendly" is not', err)
        self.assertIn("partners-bad-rows.csv:6: error: domain 'contoso.com' is a hosted domain",
                      err)
        self.assertNotIn(":2:", err)
        self.assertNotIn(":7:", err)
        self.assertIn("4 of 6 rows refused; nothing was imported", err)
        self.assertEqual(r.out, "")
        self.assertEqual(self.partners(), {})

    def test_dry_run_reports_the_same_refusals(self):
        r = self.assert_rejected_unchanged(("partner", "import", "--lync", BAD_ROWS,
                                            "--dry-run"), "partners-bad-rows.csv:3: error:")
        self.assertIn("4 of 6 rows refused", r.err)

    def test_unterminated_quote_names_its_line(self):
        self.assert_rejected_unchanged(("partner", "import", "--lync", UNTERMINATED),
                                       "partners-unterminated.csv:3: error: quoted field is "
                                       "not terminated")

    def test_missing_identity_column(self):
        self.assert_rejected_unchanged(("partner", "import", "--lync", NO_IDENTITY),
                                       "partners-no-identity.csv:1: error: no Identity column")

    def test_bad_values_in_columns(self):
        path = os.path.join(self.tmp, "values.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write('"Identity","ConnectionLimit","EnableKeepAlive","TlsNegotiation","ProxyFqdn"\n'
                    '"a.example","ten","True","Required",""\n'
                    '"b.example","5","Maybe","Required",""\n'
                    '"c.example","5","True","Sometimes",""\n'
                    '"d.example","5","True","Required","host.example:99999"\n'
                    '"","5","True","Required",""\n')
        r = self.assert_rejected_unchanged(("partner", "import", "--lync", path))
        self.assertIn('values.csv:2: error: ConnectionLimit: "ten" is not a number', r.err)
        self.assertIn('values.csv:3: error: EnableKeepAlive: "Maybe" is not True or False', r.err)
        self.assertIn('values.csv:4: error: TlsNegotiation: "Sometimes" is not Required', r.err)
        self.assertIn('values.csv:5: error: ProxyFqdn: "host.example:99999"', r.err)
        self.assertIn("values.csv:6: error: Identity is empty", r.err)

    def test_missing_file_and_usage(self):
        self.assert_rejected_unchanged(("partner", "import", "--lync",
                                        os.path.join(self.tmp, "nope.csv")), "cannot read")
        self.assert_rejected_unchanged(("partner", "import"), "--lync FILE is required", code=2)

    def test_utf16_export_is_explained(self):
        path = os.path.join(self.tmp, "utf16.csv")
        with open(path, "wb") as f:
            f.write('"Identity"\r\n"a.example"\r\n'.encode("utf-16"))
        self.assert_rejected_unchanged(("partner", "import", "--lync", path), "UTF-16")


if __name__ == "__main__":
    main()
