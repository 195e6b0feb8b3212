#!/usr/bin/python3
"""All 18 rows of the negotiation matrix (DESIGN.md section 2) through
`xfedctl partner new` and `xfedctl partner set`: exit code, message, row
number, and for rejected rows the stored file byte-for-byte unchanged."""

import itertools
import sys
import os

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import (NEGOTIATION, OK, REJECTED, XfedctlCase, main, matrix_expectation,
                             matrix_row)

COMBINATIONS = list(itertools.product(NEGOTIATION, NEGOTIATION, (True, False)))


def spell(word, i):
    """Enumeration words in varying case: they are case-insensitive."""
    return (word, word.lower(), word.upper())[i % 3]


class MatrixThroughNew(XfedctlCase):
    def test_there_are_18_distinct_rows(self):
        rows = sorted(matrix_row(t, s, d) for t, s, d in COMBINATIONS)
        self.assertEqual(rows, list(range(1, 19)))

    def test_every_row_through_partner_new(self):
        for i, (tls, sasl, dialback) in enumerate(COMBINATIONS):
            row = matrix_row(tls, sasl, dialback)
            outcome, message = matrix_expectation(tls, sasl, dialback)
            domain = "row%d.example" % row
            args = ("partner", "new", domain, "--tls", spell(tls, i), "--sasl", spell(sasl, i + 1),
                    "--dialback", spell("true" if dialback else "false", i))
            with self.subTest(row=row, tls=tls, sasl=sasl, dialback=dialback):
                if outcome == "rejected":
                    r = self.assert_rejected_unchanged(args, message, "(matrix row %d)" % row)
                    self.assertEqual(r.out, "")
                    self.assertNotIn(domain, self.partners())
                    continue
                version = self.version()
                r = self.xfedctl(*args)
                self.assertEqual(r.code, OK, r)
                self.assertIn("created partner %s" % domain, r.out)
                if outcome == "warning":
                    self.assertIn("warning: " + message, r.err)
                    self.assertIn("(matrix row %d)" % row, r.err)
                else:
                    self.assertNotIn("warning", r.err)
                    self.assertNotIn("error", r.err)
                self.assertEqual(self.version(), version + 1)
                p = self.partner(domain)
                self.assertEqual((p["tls"], p["sasl"], p["dialback"]), (tls, sasl, dialback))


class MatrixThroughSet(XfedctlCase):
    def test_every_row_through_partner_set(self):
        # A partner in a saved row without warning (row 13) is moved to each
        # combination; rejected ones leave it as it was.
        self.run_ok("partner", "new", "moving.example", "--tls", "Required", "--sasl",
                    "NotSupported", "--dialback", "true")
        for tls, sasl, dialback in COMBINATIONS:
            row = matrix_row(tls, sasl, dialback)
            outcome, message = matrix_expectation(tls, sasl, dialback)
            args = ("partner", "set", "moving.example", "--tls", tls, "--sasl", sasl,
                    "--dialback", "true" if dialback else "false")
            with self.subTest(row=row):
                if outcome == "rejected":
                    self.assert_rejected_unchanged(args, message, "(matrix row %d)" % row)
                    continue
                r = self.run_ok(*args)
                self.assertIn("changed partner moving.example", r.out)
                if outcome == "warning":
                    self.assertIn("warning: %s" % message, r.err)
                    self.assertIn("(matrix row %d)" % row, r.err)
                else:
                    self.assertEqual(r.err, "")
                p = self.partner("moving.example")
                self.assertEqual((p["tls"], p["sasl"], p["dialback"]), (tls, sasl, dialback))

    def test_a_rejected_set_names_only_the_matrix_problem(self):
        self.run_ok("partner", "new", "fabrikam.com", "--sasl", "Optional")
        r = self.assert_rejected_unchanged(("partner", "set", "fabrikam.com", "--tls",
                                            "notsupported"), "error: " + matrix_expectation(
                                                "NotSupported", "Optional", True)[1])
        self.assertIn("(matrix row 11)", r.err)
        self.assertEqual(self.partner("fabrikam.com")["tls"], "Required")


if __name__ == "__main__":
    main()
