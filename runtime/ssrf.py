"""URL and address policy for a script's outbound HTTP (ARCHITECTURE.md §5).

A URL is parsed with urllib3's parser, the one whose result runtime/host/http.py connects
to, so validation and connection never disagree about the host (`http://a:1\\@b/` is one
host to both). The name is resolved once; every address it resolves to must be globally
routable, and the connection then goes to the checked address, never to a second lookup
(DNS rebinding finds nothing to rebind). An address is judged after unwrapping the IPv4
address that IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms carry, because Python's
`ipaddress` calls several of those global. Numeric spellings (`0`, `2130706433`,
`0x7f000001`, `0177.0.0.1`) need no rule of their own: the resolver turns them into the
address they mean, and that address is what is checked.

Only an operator can open a hole: `allow` holds `host:port` pairs (JSR_HTTP_ALLOW) that
may be reached whatever their address, matched on the URL's host or the resolved address.
"""

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

SCHEMES = {"http": 80, "https": 443}

# Not globally routable, whatever ipaddress.is_global says on this Python version.
_BLOCKED_V4 = tuple(ipaddress.IPv4Network(net) for net in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_BLOCKED_V6 = tuple(ipaddress.IPv6Network(net) for net in (
    "::/128", "::1/128", "100::/64", "2001::/32", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8",
))
# IPv6 forms that carry an IPv4 address in their last 32 bits.
_EMBEDS_V4_LOW = tuple(ipaddress.IPv6Network(net) for net in (
    "::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96",
))


class BlockedRequest(Exception):
    """A URL or address the policy refuses; the message names the rule and is safe to show."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedRequest(f"could not resolve host {host!r}: {exc}") from None
    return [info[4][0] for info in infos]


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _EMBEDS_V4_LOW) and address != ipaddress.IPv6Address("::"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether `address` is globally routable, judging an embedded IPv4 address by itself."""
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or embedded_ipv4(address) or address
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_global and not any(address in net for net in _BLOCKED_V4)
    return address.is_global and not address.is_multicast and not any(address in net for net in _BLOCKED_V6)


@dataclass(frozen=True)
class Target:
    """A checked request target: connect to `address`, name `host` in Host and TLS."""

    url: Url
    scheme: str
    host: str
    port: int
    address: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def request_target(self) -> str:
        return self.url.request_uri

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == SCHEMES[self.scheme] else f"{name}:{self.port}"


@dataclass(frozen=True)
class AddressPolicy:
    allow: frozenset[tuple[str, int]] = frozenset()
    resolver: Resolver = field(default=system_resolver)

    @classmethod
    def from_setting(cls, setting: str, resolver: Resolver = system_resolver) -> "AddressPolicy":
        """From JSR_HTTP_ALLOW: comma-separated `host:port` pairs (`[::1]:8080` for IPv6)."""
        pairs = set()
        for item in filter(None, (part.strip() for part in setting.split(","))):
            host, sep, port = item.rpartition(":")
            if not sep or not port.isdigit() or not host:
                raise ValueError(f"JSR_HTTP_ALLOW entries are host:port pairs, not {item!r}")
            pairs.add((host.strip("[]").lower(), int(port)))
        return cls(frozenset(pairs), resolver)

    def check(self, url: str) -> Target:
        """The target of `url` with the one address to connect to; BlockedRequest when refused."""
        if not isinstance(url, str) or not url:
            raise BlockedRequest("a URL is required")
        if "\\" in url or any(ord(ch) < 0x21 for ch in url):
            raise BlockedRequest("the URL contains a backslash, a space or a control character")
        try:
            parsed = parse_url(url)
        except LocationParseError:
            raise BlockedRequest(f"not a valid URL: {url[:200]}") from None
        scheme = (parsed.scheme or "").lower()
        if scheme not in SCHEMES:
            raise BlockedRequest(f"only http and https URLs are allowed, not {scheme or 'a relative URL'!r}")
        if parsed.auth is not None:
            raise BlockedRequest("credentials in the URL are not allowed; send an Authorization header")
        host = (parsed.host or "").strip("[]").rstrip(".").lower()
        if not host:
            raise BlockedRequest("the URL has no host")
        port = parsed.port or SCHEMES[scheme]
        addresses = self._addresses(host, port)
        allowed = (host, port) in self.allow or any((str(a), port) in self.allow for a in addresses)
        if not allowed:
            for address in addresses:
                if not is_public(address):
                    raise BlockedRequest(f"blocked request to non-public address: {address}")
        return Target(parsed, scheme, host, port, str(addresses[0]))

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        resolved = self.resolver(host, port)
        if not resolved:
            raise BlockedRequest(f"could not resolve host {host!r}")
        # A scoped link-local answer (fe80::1%eth0) is still link-local: the scope is dropped to judge it.
        return [ipaddress.ip_address(address.split("%", 1)[0]) for address in resolved]
