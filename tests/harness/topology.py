"""The standard edge test set-up in one call.

    with Lab() as lab:
        fed = Federation(lab)        # edge + partner namespaces, DNS, CA, certificates
        fed.partner_prosody.start()  # fabrikam.example (user alice) in the partner namespace
        edge = fed.edge.spawn([xfed_bin("xfed-edge"), "-f", cfg])   # the system under test
        fed.edge.wait_port(fed.edge.ip, 5269, proc=edge)
        with fed.partner_client() as alice:
            alice.send("bob@contoso.example", "hi")
            ...

What Federation makes (all names can be changed by keywords):
  edge       Host "edge" (10.254.0.10): where xfed-edge, or a stand-in, runs as contoso.example
  partner    Host "partner" (10.254.0.11): fabrikam.example
  dns        DnsServer (10.254.0.53), started, with
               A     contoso.example -> edge.ip, fabrikam.example -> partner.ip
               SRV   _xmpp-server._tcp.<both> -> <domain>:5269
               SRV   _xmpps-server._tcp.contoso.example -> contoso.example:5270 if direct_tls
             change with fed.dns.clear_srv(...)/srv(...)/apply()
  ca         TestCA; ca.cafile is what both sides trust
  certs      dict: "contoso.example", "fabrikam.example" (DNS-ID + xmppAddr + SRV-ID),
             "wrong" (wrong.example), "expired" (contoso.example, expired),
             "rogue" (contoso.example from an untrusted CA), "dns-only" (contoso.example, DNS-ID only)
  partner_prosody   Prosody for fabrikam.example with user alice (password fed.password),
             not started; prosody_opts go to its constructor.
"""

import os

from .ca import TestCA
from .client import login_to
from .dns import DnsServer
from .prosody import Prosody

HOSTED = "contoso.example"
PARTNER = "fabrikam.example"


def xfed_bin(name):
    """Path of a built xfed program: $XFED_BIN/<name> (set by xfed_script_test)."""
    return os.path.join(os.environ.get("XFED_BIN", "build/bin"), name)


class Federation:
    def __init__(self, lab, hosted=HOSTED, partner=PARTNER, direct_tls=False, password="harness-pw",
                 partner_user="alice", **prosody_opts):
        self.lab = lab
        self.hosted = hosted
        self.partner_domain = partner
        self.password = password
        self.edge = lab.hosts.get("edge") or lab.add_host("edge")
        self.partner = lab.hosts.get("partner") or lab.add_host("partner")
        self.dns = DnsServer(lab)
        self.dns.a(hosted, self.edge.ip).a(partner, self.partner.ip)
        self.dns.srv("xmpp-server", hosted, hosted, 5269).srv("xmpp-server", partner, partner, 5269)
        if direct_tls:
            self.dns.srv("xmpps-server", hosted, hosted, 5270)
        self.dns.start()
        self.ca = TestCA(lab.path("ca"))
        rogue_ca = TestCA(lab.path("rogue-ca"), name="rogue CA")
        self.certs = {
            hosted: self.ca.issue(hosted),
            partner: self.ca.issue(partner),
            "wrong": self.ca.issue("wrong.example"),
            "expired": self.ca.issue(hosted, expired=True, tag=hosted + "-expired"),
            "dns-only": self.ca.issue(hosted, xmpp_addr=False, srv_id=False, tag=hosted + "-dns-only"),
            "rogue": rogue_ca.issue(hosted),
        }
        self.partner_user = partner_user
        self.partner_prosody = Prosody(self.partner, partner, ca=self.ca, cert=self.certs[partner], **prosody_opts)
        self.partner_prosody.add_user(partner_user, password)

    def partner_client(self, user=None, **kw):
        """A logged-in XmppClient for user@fabrikam.example (Prosody must be running)."""
        return login_to(self.partner_prosody, user or self.partner_user, self.password, **kw)
