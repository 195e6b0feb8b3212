"""Real-peer test harness for xfed's edge: namespaces, DNS, test CA, Prosody, clients, raw peers.

See README.md in this folder. Needs root and the Debian packages prosody,
python3-slixmpp, dnsmasq, iproute2, openssl, bind9-dnsutils; run tests with
/usr/bin/python3 (Debian's slixmpp is installed for that interpreter only).
"""

from .ca import Cert, TestCA
from .client import XmppClient, login_to
from .dns import DnsServer
from .netns import HarnessError, Host, Lab, Proc, in_netns, remove_stale_namespaces, wait_for
from .prosody import Prosody
from .topology import Federation, xfed_bin
from .raw_peer import RawPeer, StreamError, dialback_key, open_idle_connections, close_all, stream_header

__all__ = [
    "Cert", "TestCA", "XmppClient", "login_to", "DnsServer", "HarnessError", "Host", "Lab", "Proc", "in_netns",
    "remove_stale_namespaces", "wait_for", "Prosody", "RawPeer", "StreamError", "dialback_key",
    "open_idle_connections", "close_all", "stream_header", "Federation", "xfed_bin",
]
