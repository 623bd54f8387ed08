"""Who may connect, and how many at once: the peer bounds of the MLLP and DICOM listeners.

A listener asks `PeerGate.admit(key)` when a connection (MLLP: the peer's IP address) or an
association (DICOM: the calling AE title) arrives, and `release(key)` when it ends. The gate
refuses a peer that is not on the allow-list or that already holds `per_peer` connections, so
one sender (or one attacker) can never take every slot of a listener.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NOT_ALLOWED = "not_allowed"
PEER_CAP = "peer_cap"


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """IP networks from addresses or CIDR texts; ValueError naming the one that is not."""
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


def address_allowed(networks: tuple[Network, ...], address: str) -> bool:
    """Whether `address` lies in one of `networks` (no networks: every address)."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


@dataclass(frozen=True, slots=True)
class PeerLimits:
    """The bounds of one listener's peers."""

    allowed: tuple[Network, ...] = ()
    """Addresses allowed to connect; empty: any."""
    per_peer: int = 8
    """Connections one address may hold at once."""
    idle_timeout_s: float | None = None
    """Seconds a connection may stay open without completing a message (None: forever)."""


class PeerGate:
    """Open connections per peer key, and the reason a new one is refused."""

    def __init__(self, *, per_peer: int, allowed: Callable[[str], bool]) -> None:
        self.per_peer = per_peer
        self.allowed = allowed
        self.open: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # by reason

    def admit(self, key: str) -> str | None:
        """None when `key` may open one more connection (it is then counted), else the
        reason (`NOT_ALLOWED` or `PEER_CAP`) it may not."""
        if not self.allowed(key):
            reason = NOT_ALLOWED
        elif self.open[key] >= self.per_peer:
            reason = PEER_CAP
        else:
            self.open[key] += 1
            return None
        self.refused[reason] += 1
        return reason

    def release(self, key: str) -> None:
        """One connection of `key` ended (call once per admitted connection)."""
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]
