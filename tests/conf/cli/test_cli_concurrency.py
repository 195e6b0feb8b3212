#!/usr/bin/python3
"""Concurrent writers: 20 `xfedctl partner new` started at once must all
succeed, none may lose another's update, and the configuration version must
advance by exactly 20 (the store serialises writers with a lock)."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xfedctl_harness import XFEDCTL, XfedctlCase, main

WRITERS = 20


class ConcurrentWriters(XfedctlCase):
    def test_twenty_concurrent_partner_new(self):
        version = self.version()
        domains = ["partner%02d.example" % i for i in range(WRITERS)]
        procs = []
        try:
            for d in domains:
                procs.append(subprocess.Popen(
                    [XFEDCTL, "-c", self.dir, "partner", "new", d, "--sasl", "Optional"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
        for d, (out, err, code) in zip(domains, results):
            self.assertEqual(code, 0, "%s: %s %s" % (d, out, err))
            self.assertIn(b"created partner " + d.encode(), out)
        self.assertEqual(sorted(self.partners()), sorted(domains))
        self.assertEqual(self.version(), version + WRITERS)
        # Every write used a distinct version number.
        written = sorted(int(out.rsplit(b"version ", 1)[1].split(b")")[0])
                         for out, _, _ in results)
        self.assertEqual(written, list(range(version + 1, version + WRITERS + 1)))
        self.run_ok("check")

    def test_concurrent_duplicates_admit_exactly_one(self):
        version = self.version()
        procs = []
        try:
            for _ in range(8):
                procs.append(subprocess.Popen(
                    [XFEDCTL, "-c", self.dir, "partner", "new", "same.example"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            codes = []
            for p in procs:
                p.communicate(timeout=60)
                codes.append(p.returncode)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
        self.assertEqual(sorted(codes), [0] + [1] * 7)
        self.assertEqual(list(self.partners()), ["same.example"])
        self.assertEqual(self.version(), version + 1)


if __name__ == "__main__":
    main()
