"""Where webhooks may be sent: the address policy and the registration check of a URL.

Delivery (webhooks.http) applies `address_allowed` to every address a name
resolves to, and connects only to an address it checked. Registration
(`url_check`) refuses what can be refused without DNS: credentials in the
URL, another scheme, and literal addresses (in any spelling the resolver
accepts, such as `2130706433` for 127.0.0.1) that delivery would refuse.
"""

import enum
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from webhooks.exceptions import EndpointUrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressClass(enum.Enum):
    GLOBAL = "global"
    # Loopback and private networks: allowed only with WEBHOOK_ALLOW_PRIVATE_ADDRESSES.
    INTERNAL = "internal"
    # Never: link-local (cloud metadata), multicast, unspecified, reserved, documentation,
    # and IPv6 forms that carry an IPv4 address other than the IPv4-mapped one.
    BLOCKED = "blocked"


INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
    )
)
# Ranges Python's `is_global` calls global that no receiver should live in.
EXTRA_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "fec0::/10",  # deprecated site-local
        "2002::/16",  # 6to4: the IPv4 address inside decides where it goes
        "2001::/32",  # Teredo: likewise
        "3fff::/20",  # documentation (newer than some Python releases)
    )
)
NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE_NETWORK = ipaddress.IPv6Network("::/96")


def address_class(ip: IPAddress) -> AddressClass:
    """Classify an address by where a connection to it would go."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            return AddressClass.BLOCKED
        if ip in NAT64_NETWORK:
            # The well-known NAT64 prefix reaches the IPv4 address in its last 32 bits.
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            if address_class(embedded) is AddressClass.GLOBAL:
                return AddressClass.GLOBAL
            return AddressClass.BLOCKED
        if ip in IPV4_COMPATIBLE_NETWORK and ip != ipaddress.IPv6Address("::1"):
            return AddressClass.BLOCKED
    if ip.is_loopback:
        return AddressClass.INTERNAL
    if (
        ip.is_unspecified
        or ip.is_multicast
        or ip.is_link_local
        or ip.is_reserved
        or any(ip in net for net in EXTRA_BLOCKED_NETWORKS)
    ):
        return AddressClass.BLOCKED
    if any(ip in net for net in INTERNAL_NETWORKS):
        return AddressClass.INTERNAL
    if ip.is_global:
        return AddressClass.GLOBAL
    return AddressClass.BLOCKED


def address_allowed(ip: IPAddress, *, allow_private: bool) -> bool:
    """May a delivery connect to `ip`? Internal addresses only when `allow_private`."""
    kind = address_class(ip)
    return kind is AddressClass.GLOBAL or (allow_private and kind is AddressClass.INTERNAL)


def numeric_address(host: str) -> IPAddress | None:
    """The address a literal host stands for (any spelling the resolver accepts), else None.

    Asks the resolver with AI_NUMERICHOST, which never sends a DNS query.
    """
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(infos[0][4][0])


def url_parts(url: str) -> SplitResult:
    """Split a webhook URL; ValueError unless http(s) with a host, a valid port, no userinfo."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("scheme")
    if "@" in parts.netloc:
        raise ValueError("credentials")
    if not parts.hostname:
        raise ValueError("host")
    parts.port  # noqa: B018 - raises ValueError for a port out of range
    return parts


def url_check(url: str, *, allow_private: bool) -> None:
    """Refuse a URL no delivery could use. Raises EndpointUrlRefused (a 400 with its `code`)."""
    try:
        parts = url_parts(url)
    except ValueError as exc:
        if str(exc) == "credentials":
            raise EndpointUrlRefused(
                code="url_credentials",
                message="A webhook URL must not contain a user name or password.",
            ) from None
        raise EndpointUrlRefused(
            code="url_invalid",
            message="Only http and https URLs with a host and a valid port can receive webhooks.",
        ) from None
    host = parts.hostname or ""
    blocked_name = host == "localhost" or host.endswith(".localhost")
    ip = numeric_address(host)
    refused = (blocked_name and not allow_private) or (
        ip is not None and not address_allowed(ip, allow_private=allow_private)
    )
    if refused:
        raise EndpointUrlRefused(
            code="url_blocked_address",
            message="Webhooks cannot be sent to loopback, private, link-local, multicast "
            "or reserved addresses.",
        )
