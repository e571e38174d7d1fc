"""Which IP addresses a fetch may connect to: public unicast only.

The tables follow the IANA special-purpose registries. They are spelled out rather than left to
`ipaddress.is_global`, whose lists changed between Python patch releases (3.11.7 still calls
64:ff9b::7f00:1 global).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

_V4_REFUSED: dict[IPv4Network, str] = {
    IPv4Network(net): label
    for net, label in (
        ("0.0.0.0/8", "this-network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.31.196.0/24", "AS112"),
        ("192.52.193.0/24", "AMT"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("192.175.48.0/24", "AS112"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
}

_V6_REFUSED: dict[IPv6Network, str] = {
    IPv6Network(net): label
    for net, label in (
        ("::/96", "unspecified, loopback or IPv4-compatible"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (incl. Teredo)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
}

_NAT64 = IPv6Network("64:ff9b::/96")


def _embedded_v4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address a mapped, 6to4 or NAT64 IPv6 address really reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why a connection to `ip` is refused, or None for a public unicast address."""
    if isinstance(ip, IPv6Address):
        if ip.scope_id:
            return f"{ip} carries a zone id"
        embedded = _embedded_v4(ip)
        if embedded is not None:
            reason = refusal(embedded)
            return None if reason is None else f"{ip} embeds {reason}"
        for net6, label in _V6_REFUSED.items():
            if ip in net6:
                return f"{ip} is {label} ({net6})"
    else:
        for net4, label in _V4_REFUSED.items():
            if ip in net4:
                return f"{ip} is {label} ({net4})"
    if not ip.is_global or ip.is_multicast:
        return f"{ip} is not a public address"
    return None


def parse_ip(text: str) -> IPAddress | None:
    """`text` as an IP address when it is one in canonical notation, else None."""
    try:
        return ip_address(text)
    except ValueError:
        return None
