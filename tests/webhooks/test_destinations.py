"""Where deliveries may connect: every special-purpose range, in every spelling, is refused.

The table lists IANA's special-purpose ranges (IPv4 and IPv6) with what the
policy must decide; Hypothesis picks addresses inside each range, and derives
the IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64).
"""

import ipaddress
import socket

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from webhooks import http
from webhooks.destinations import AddressClass, address_allowed, address_class, url_check
from webhooks.exceptions import EndpointUrlRefused

INTERNAL = AddressClass.INTERNAL
BLOCKED = AddressClass.BLOCKED
GLOBAL = AddressClass.GLOBAL

IPV4_RANGES = [
    ("0.0.0.0/8", BLOCKED),  # "this network", unspecified
    ("10.0.0.0/8", INTERNAL),
    ("100.64.0.0/10", INTERNAL),  # shared address space (carrier-grade NAT)
    ("127.0.0.0/8", INTERNAL),  # loopback
    ("169.254.0.0/16", BLOCKED),  # link-local, cloud metadata
    ("172.16.0.0/12", INTERNAL),
    ("192.0.0.0/29", BLOCKED),  # IPv4 service continuity prefix
    ("192.0.0.8/32", BLOCKED),  # IPv4 dummy address
    ("192.0.0.170/31", BLOCKED),  # NAT64/DNS64 discovery
    ("192.0.2.0/24", BLOCKED),  # documentation
    ("192.88.99.0/24", BLOCKED),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", INTERNAL),
    ("198.18.0.0/15", BLOCKED),  # benchmarking
    ("198.51.100.0/24", BLOCKED),  # documentation
    ("203.0.113.0/24", BLOCKED),  # documentation
    ("224.0.0.0/4", BLOCKED),  # multicast
    ("240.0.0.0/4", BLOCKED),  # reserved
    ("255.255.255.255/32", BLOCKED),  # limited broadcast
    ("8.8.8.0/24", GLOBAL),
    ("1.1.1.0/24", GLOBAL),
    ("93.184.215.0/24", GLOBAL),
]
IPV6_RANGES = [
    ("::/128", BLOCKED),  # unspecified
    ("::1/128", INTERNAL),  # loopback
    ("64:ff9b:1::/48", BLOCKED),  # local-use NAT64
    ("100::/64", BLOCKED),  # discard-only
    ("2001::/32", BLOCKED),  # Teredo
    ("2001:2::/48", BLOCKED),  # benchmarking
    ("2001:10::/28", BLOCKED),  # deprecated ORCHID
    ("2001:db8::/32", BLOCKED),  # documentation
    ("2002::/16", BLOCKED),  # 6to4
    ("3fff::/20", BLOCKED),  # documentation
    ("5f00::/16", BLOCKED),  # segment routing SIDs
    ("fc00::/7", INTERNAL),  # unique local
    ("fe80::/10", BLOCKED),  # link-local
    ("fec0::/10", BLOCKED),  # deprecated site-local
    ("ff00::/8", BLOCKED),  # multicast
    ("2001:4860::/32", GLOBAL),
    ("2606:4700::/32", GLOBAL),
]


def _inside(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])


def _ipv6_forms(v4: ipaddress.IPv4Address, kind: AddressClass):
    """The IPv6 spellings of an IPv4 address, with what the policy must decide for each."""
    value = int(v4)
    yield ipaddress.IPv6Address(f"::ffff:{v4}"), kind  # mapped: the same connection
    # NAT64's well-known prefix reaches the IPv4 address: only a global one is fine.
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | value)
    yield nat64, GLOBAL if kind is GLOBAL else BLOCKED
    yield ipaddress.IPv6Address((0x2002 << 112) | (value << 80)), BLOCKED  # 6to4
    if value > 1:  # ::0.0.0.0 and ::0.0.0.1 are the unspecified and loopback addresses
        yield ipaddress.IPv6Address(value), BLOCKED  # IPv4-compatible (deprecated)


def _assert_policy(ip, kind: AddressClass) -> None:
    assert address_class(ip) is kind, ip
    assert address_allowed(ip, allow_private=False) is (kind is GLOBAL), ip
    assert address_allowed(ip, allow_private=True) is (kind is not BLOCKED), ip


@pytest.mark.parametrize(("network", "kind"), IPV4_RANGES + IPV6_RANGES)
@given(data=st.data())
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_address_of_a_special_range_is_classified_by_the_table(network, kind, data):
    _assert_policy(data.draw(_inside(network)), kind)


@pytest.mark.parametrize(("network", "kind"), IPV4_RANGES)
@given(data=st.data())
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_ipv6_forms_carrying_an_ipv4_address_are_never_a_way_around(network, kind, data):
    v4 = data.draw(_inside(network))
    for ip, expected in _ipv6_forms(v4, kind):
        _assert_policy(ip, expected)


def _literal_urls(network: str, kind: AddressClass) -> st.SearchStrategy[str]:
    """URLs naming an address of the range literally, in several spellings."""

    def spellings(ip) -> list[str]:
        if ip.version == 6:
            return [f"http://[{ip}]:8080/hook", f"https://[{ip.exploded}]/hook"]
        forms = [f"http://{ip}:8080/hook", f"http://{int(ip)}:8080/hook"]
        forms.append(f"http://{hex(int(ip))}/hook")
        forms.append(f"http://[::ffff:{ip}]:8080/hook")
        return forms

    return _inside(network).flatmap(lambda ip: st.sampled_from(spellings(ip)))


REFUSED_RANGES = [(n, k) for n, k in IPV4_RANGES + IPV6_RANGES if k is not GLOBAL]


@pytest.mark.parametrize(("network", "kind"), REFUSED_RANGES)
@given(data=st.data())
@hypothesis_settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_delivery_to_a_refused_address_never_connects(network, kind, data, monkeypatch):
    connected: list[object] = []
    real_connect = socket.socket.connect

    def recording_connect(sock, address):
        connected.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    url = data.draw(_literal_urls(network, kind))

    response = http.post(url=url, body=b"{}", headers={}, timeout=2, allow_private=False)

    assert (response.status_code, response.error) == (None, "blocked_address"), url
    assert connected == []
    if kind is BLOCKED:
        again = http.post(url=url, body=b"{}", headers={}, timeout=2, allow_private=True)
        assert again.error == "blocked_address", url


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1", "[::ffff:7f00:1]", "[::1]"]
)
def test_registration_refuses_any_spelling_of_a_loopback_address(host):
    with pytest.raises(EndpointUrlRefused) as refused:
        url_check(f"http://{host}:8080/hook", allow_private=False)
    assert refused.value.code == "url_blocked_address"
    url_check(f"http://{host}:8080/hook", allow_private=True)
