"""A real DNS server (dnsmasq) for the lab's test zone, in its own namespace.

    dns = DnsServer(lab)                      # namespace xf<pid>-dns at 10.254.0.53
    dns.a("contoso.example", edge.ip)
    dns.srv("xmpp-server", "contoso.example", "contoso.example", 5269)
    dns.srv("xmpps-server", "contoso.example", ".")   # RFC 2782 "service not available"
    dns.start()                               # blocks until it answers (bounded)
    ...
    dns.clear_srv("contoso.example"); dns.srv(...); dns.apply()   # restart with new records

Every namespace the Lab creates already has /etc/netns/<ns>/resolv.conf
naming 10.254.0.53, so programs run with Host.run/spawn resolve through this
server (Prosody uses libunbound, which reads that resolv.conf). dnsmasq has no
upstream (no-resolv) and answers only from its records: a name it does not
know gets NXDOMAIN (or REFUSED when it is outside every local zone), a known
name without the asked type gets an empty NOERROR. Local records have TTL 0,
so nothing caches a stale answer across apply().
"""

import os
import random
import socket
import struct
import time

from .netns import DNS_IP, HarnessError


def _dns_probe_packet(qid, name="probe.xfed.invalid"):
    hdr = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return hdr + q + struct.pack(">HH", 1, 1)


class DnsServer:
    """dnsmasq serving A and SRV records to the lab; restarted by apply()."""

    def __init__(self, lab, host=None, local_zones=("example",)):
        """host: the Host to run in (default: a new host "dns" at 10.254.0.53).

        local_zones: zones dnsmasq answers for with NXDOMAIN when a name is
        unknown (never forwarded anywhere: there is no upstream at all).
        """
        self.lab = lab
        if host is None:
            host = lab.hosts.get("dns") or lab.add_host("dns", DNS_IP)
        if host.ip != lab.dns_ip:
            raise HarnessError("the DNS host must have the lab's DNS address %s" % lab.dns_ip)
        self.host = host
        self.ip = host.ip
        self.local_zones = list(local_zones)
        self.records = []  # (kind, key, line)
        self.proc = None
        self.conf_path = lab.path("dnsmasq.conf")
        self.log_path = lab.path("dnsmasq.log")

    # -- records -----------------------------------------------------------
    def a(self, name, ip):
        """Add an A record name -> ip (several calls give several addresses)."""
        self.records.append(("a", name.lower(), "host-record=%s,%s" % (name, ip)))
        return self

    def srv(self, service, domain, target, port=5269, priority=0, weight=5, proto="tcp"):
        """Add _<service>._<proto>.<domain> SRV priority weight port target.

        target "." (or None) publishes the RFC 2782 "service decidedly not
        available" record (dnsmasq's srv-host with no target).
        """
        owner = "_%s._%s.%s" % (service, proto, domain)
        if target in (None, "."):
            line = "srv-host=%s" % owner
        else:
            line = "srv-host=%s,%s,%d,%d,%d" % (owner, target, port, priority, weight)
        self.records.append(("srv", domain.lower(), line))
        return self

    def raw(self, line):
        """Add any dnsmasq configuration line (e.g. 'cname=a.example,b.example')."""
        self.records.append(("raw", "", line))
        return self

    def clear(self):
        """Remove all records (call apply() to take effect)."""
        self.records = []
        return self

    def clear_srv(self, domain=None):
        """Remove SRV records (of domain, or all)."""
        self.records = [r for r in self.records if not (r[0] == "srv" and (domain is None or r[1] == domain.lower()))]
        return self

    def clear_a(self, name=None):
        """Remove A records (of name, or all)."""
        self.records = [r for r in self.records if not (r[0] == "a" and (name is None or r[1] == name.lower()))]
        return self

    # -- server ------------------------------------------------------------
    def _write_conf(self):
        lines = [
            "no-resolv", "no-hosts", "no-poll", "bind-interfaces",
            "listen-address=%s" % self.ip, "port=53", "log-queries", "log-facility=-",
            "user=root", "group=root", "pid-file=",
        ]
        lines += ["local=/%s/" % z for z in self.local_zones]
        lines += [r[2] for r in self.records]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10.0):
        """Write the configuration and start dnsmasq; returns once it answers."""
        if self.proc is not None:
            raise HarnessError("dnsmasq already running; use apply()")
        self._write_conf()
        self.proc = self.host.spawn(
            ["dnsmasq", "--keep-in-foreground", "--conf-file=" + self.conf_path],
            name="dnsmasq", log_path=self.log_path)
        self._wait_ready(timeout)
        return self

    def apply(self, timeout=10.0):
        """Restart dnsmasq with the current records (dnsmasq re-reads srv-host only at start)."""
        self.stop()
        return self.start(timeout)

    def stop(self):
        if self.proc is not None:
            self.lab.forget(self.proc)
            self.proc = None

    def _wait_ready(self, timeout):
        t0 = time.monotonic()
        s = self.host.socket(type=socket.SOCK_DGRAM)
        try:
            s.settimeout(0.2)
            while True:
                if not self.proc.alive():
                    raise HarnessError("dnsmasq exited (rc=%s):\n%s"
                                       % (self.proc.returncode, self.proc.output()[-2000:]))
                qid = random.randrange(65536)
                try:
                    s.sendto(_dns_probe_packet(qid), (self.ip, 53))
                    data = s.recv(512)
                    if len(data) >= 2 and struct.unpack(">H", data[:2])[0] == qid:
                        return time.monotonic() - t0
                except OSError:
                    pass
                if time.monotonic() - t0 > timeout:
                    raise HarnessError("dnsmasq did not answer within %.1fs" % timeout)
                time.sleep(0.05)
        finally:
            s.close()

    def log(self):
        """dnsmasq's log (queries and answers) as text."""
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()
