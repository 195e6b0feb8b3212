#!/usr/bin/python3
"""A surviving gateway takes over a dead gateway's presence subscriptions
while it runs (issue 6 item 2, "Failover under load": presence subscriptions
of the killed gateway's users still deliver updates afterwards).

The lab of scale_failover.py without the message load: Prosody
fabrikam.example -> xfed-edge -> three xfed-gateways (gw1, gw2, gw3) sharing
one PostgreSQL 15 (started here, removed afterwards) -> Kamailio 5.6 with
dispatcher. sub_lease_ms = LEASE_MS, sub_takeover_ms = PERIOD_MS.

Steps and checks:
  - a partner user (watcher) subscribes to WATCHED SIP users; every row of
    the subscriptions table has an owner among the three, and gw2 owns some;
  - gw2 is killed with SIGKILL and NOT restarted;
  - within LEASE_MS + PERIOD_MS (plus SLACK_S) no row is gw2's any more: the
    survivors own them (read from the database), and their logs say so with
    event=sub-takeover from=gw2 count=N, the counts adding up to gw2's rows
    (no row taken twice);
  - each of gw2's subscriptions is re-SUBSCRIBEd by exactly one survivor,
    the one the database names (event=subscribe-sent lines, debug log);
  - a SIP user of gw2 publishes a presence: the watcher receives it (NOTIFY
    to the survivor after its re-SUBSCRIBE, then XMPP through the edge);
  - gw2 is started again (its lease long gone, its old subscriptions stay
    with the survivors); the watcher unsubscribes from one of them: the edge
    sends that to gw2, which takes the subscription back from the survivor
    (event=sub-takeover ... reason=traffic) and ends it: the row is removed;
  - all three are killed and started again after their leases ran out, gw1
    one second before the others: every row keeps its owner (a starting
    gateway claims no orphan for sub_lease_ms, so gw1 does not take all).

    sub_takeover.py

Needs root. About 40 s.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gwlab import HOSTED, GatewayLab, check  # noqa: E402
from harness import Lab  # noqa: E402
from pg_store_test import PG_BIN, PgServer  # noqa: E402
from scale_failover import GATEWAYS, Gateways, start_lab  # noqa: E402

KILLED = "gw2"
WATCHED = 15
LEASE_MS = 3000
PERIOD_MS = 1000
SLACK_S = 1.5  # a tick's own work, and the poll below


def sql(pg, query):
    """Rows of query as lists of strings (psql, unaligned)."""
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-h", pg.sock, "-p", str(pg.port),
                        "-U", "postgres", "-d", pg.dbname, "-AtF", "|", "-c", query],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError("psql: %s" % r.stdout)
    return [line.split("|") for line in r.stdout.splitlines() if line]


def owners(pg):
    """{(xmpp, sip): owner} of the X->S subscriptions."""
    return {(x, s): o for x, s, o in
            sql(pg, "SELECT xmpp, sip, owner FROM subscriptions WHERE dir = 0 AND poll = 0")}


def main():
    t_start = time.monotonic()
    timing = "sub_lease_ms = %d;\nsub_takeover_ms = %d;\n" % (LEASE_MS, PERIOD_MS)
    with PgServer(dbname="xfedtakeover") as pg, Lab() as lab:
        store = "postgresql:" + pg.conninfo
        g = GatewayLab(lab, gw_local=dict(state_db=store, sub_lease_ms=LEASE_MS,
                                          sub_takeover_ms=PERIOD_MS))
        gws = Gateways(g, store, extra=timing)
        dumps = start_lab(g, gws)
        watcher = g.client("watcher")
        # one SUBSCRIBE at a time (the test Kamailio's SQLite presence answers
        # a burst with 500)
        approved = set()
        for u in range(WATCHED):
            watcher.subscribe("bob%d@%s" % (u, HOSTED))
            if watcher.wait_presence(timeout=10, from_="bob%d@%s" % (u, HOSTED),
                                     type_="subscribed"):
                approved.add("bob%d" % u)
        check(len(approved) == WATCHED, "the watcher's %d subscriptions are approved (%d)"
              % (WATCHED, len(approved)), *dumps)
        before = owners(pg)
        names = {n for n, _ in GATEWAYS}
        check(len(before) == WATCHED and set(before.values()) <= names,
              "each of the %d subscriptions has one owner among the gateways: %s"
              % (WATCHED, sorted(before.values())), *dumps)
        gone = sorted(k for k, o in before.items() if o == KILLED)
        check(gone, "%s owns some of them (%d)" % (KILLED, len(gone)), *dumps)
        print("# lab up in %.1f s; owners before the kill: %s"
              % (time.monotonic() - t_start,
                 {n: sum(1 for o in before.values() if o == n) for n in sorted(names)}),
              flush=True)

        gws.procs[KILLED].signal(signal.SIGKILL)
        t_kill = time.monotonic()
        gws.procs[KILLED].wait(5)
        lab.forget(gws.procs[KILLED])
        bound = (LEASE_MS + PERIOD_MS) / 1000.0 + SLACK_S
        after = before
        while time.monotonic() - t_kill < bound + 5:
            after = owners(pg)
            if all(after.get(k) not in (None, KILLED) for k in gone):
                break
            time.sleep(0.2)
        took = time.monotonic() - t_kill
        print("RESULT takeover_s=%.2f rows=%d (kill -9 %s -> no row of it left; lease %d ms, "
              "period %d ms)" % (took, len(gone), KILLED, LEASE_MS, PERIOD_MS), flush=True)
        check(all(after.get(k) in names - {KILLED} for k in gone),
              "the survivors own %s's %d subscriptions: %s"
              % (KILLED, len(gone), sorted((k[1], after.get(k)) for k in gone)), *dumps)
        check(took <= bound, "taken over in %.2f s <= lease + period + %.1f s = %.2f s"
              % (took, SLACK_S, bound), *dumps)
        check(all(after[k] == o for k, o in before.items() if o != KILLED),
              "the survivors' own subscriptions did not move")

        # the log line per claim, and no row claimed twice
        survivors = [n for n, _ in GATEWAYS if n != KILLED]
        claimed = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            claimed = {n: sum(int(c) for c in re.findall(
                r"event=sub-takeover from=%s count=(\d+)\s*$" % KILLED, gws.log(n), re.M))
                for n in survivors}
            if sum(claimed.values()) >= len(gone):
                break
            time.sleep(0.2)
        print("# event=sub-takeover from=%s counts: %s" % (KILLED, claimed), flush=True)
        check(sum(claimed.values()) == len(gone),
              "the survivors' takeover lines count %d subscriptions, %s had %d"
              % (sum(claimed.values()), KILLED, len(gone)), *dumps)
        for n in survivors:
            mine = sum(1 for k in gone if after[k] == n)
            check(claimed[n] == mine, "%s logged %d taken over, the database says %d"
                  % (n, claimed[n], mine), *dumps)

        # the presence of one of gw2's SIP users reaches the watcher
        target = sorted(k[1] for k in gone)[0]
        user = re.match(r"sip:([^@]+)@", target).group(1)
        note = "after the takeover"
        deadline = time.monotonic() + 20
        got = None
        while got is None and time.monotonic() < deadline:
            # the survivor's re-SUBSCRIBE may still be on its way: publish again
            g.publish(user, "open", note)
            got = watcher.wait_presence(timeout=5, from_="%s@%s" % (user, HOSTED), status=note)
        check(got is not None, "the presence %s publishes reaches the watcher after %s died "
              "(%s refreshes it)" % (user, KILLED, after[(gone[0][0], target)]), *dumps)

        # each of gw2's subscriptions was re-SUBSCRIBEd by one survivor: its owner
        for x, s in gone:
            rx = re.compile(r"event=subscribe-sent xmpp=%s sip=%s " % (re.escape(x),
                                                                        re.escape(s)))
            senders = [n for n in survivors if rx.search(gws.log(n))]
            check(senders == [after[(x, s)]], "%s -> %s: SUBSCRIBE from %s only (sent by %s)"
                  % (x, s, after[(x, s)], senders), *dumps)
        print("# each of %s's %d subscriptions re-SUBSCRIBEd by its new owner only"
              % (KILLED, len(gone)), flush=True)

        # gw2 comes back after its lease ran out: the survivors keep its old
        # subscriptions, but the edges send its users' XMPP traffic to gw2
        # again, so an unsubscribe from the watcher makes gw2 take that one
        # back and end it (SUBSCRIBE Expires 0): the row goes away
        gws.start(KILLED)
        check(gws.wait_up(KILLED), "%s restarted and connected" % KILLED, *dumps)
        x, s = gone[-1]
        prev = after[(x, s)]
        watcher.presence(to="%s@%s" % (re.match(r"sip:([^@]+)@", s).group(1), HOSTED),
                         ptype="unsubscribe")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (x, s) in owners(pg):
            time.sleep(0.2)
        check((x, s) not in owners(pg), "the watcher's unsubscribe from %s, sent to the restarted "
              "%s while %s owned the subscription, ended it (row removed)" % (s, KILLED, prev),
              *dumps)
        check(re.search(r"event=sub-takeover from=%s count=1 reason=traffic" % prev,
                        gws.log(KILLED)),
              "%s took it over from %s for that traffic (event=sub-takeover ... reason=traffic)"
              % (KILLED, prev), *dumps)

        # all three die and come back after their leases ran out, gw1 first:
        # for sub_lease_ms after its start a gateway claims nothing, so gw2
        # and gw3 find their own rows instead of gw1 taking every orphan
        snap = owners(pg)
        for n, _ in GATEWAYS:
            gws.procs[n].signal(signal.SIGKILL)
            gws.procs[n].wait(5)
            lab.forget(gws.procs[n])
        time.sleep(LEASE_MS / 1000.0 + 0.5)
        gws.start("gw1")
        time.sleep(1.0)
        for n in ("gw2", "gw3"):
            gws.start(n)
        for n, _ in GATEWAYS:
            check(gws.wait_up(n), "%s started again" % n, *dumps)
        time.sleep((LEASE_MS + PERIOD_MS) / 1000.0)
        now = owners(pg)
        check(now == snap, "after a restart of all three, gw1 first, every subscription kept its "
              "owner: %s" % sorted((k[1], snap.get(k), v) for k, v in now.items()), *dumps)
        watcher.close()
        for n, _ in GATEWAYS:
            check(gws.procs[n].alive(), "%s still runs" % n, *dumps)
        print("all checks passed in %.1f s" % (time.monotonic() - t_start), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
