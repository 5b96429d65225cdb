"""The outbound address policy (ARCHITECTURE.md §5): every bypass listed there is refused."""

import ipaddress

import pytest

from runtime.ssrf import AddressPolicy, BlockedRequest, is_public


def resolver_of(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        return table[host]
    return resolve


PUBLIC = AddressPolicy(resolver=resolver_of({"example.com": ["93.184.216.34"]}))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.254", "0.0.0.0", "0.1.2.3", "198.18.0.1", "198.19.255.255", "224.0.0.1", "239.255.255.250",
    "240.0.0.1", "255.255.255.255", "192.0.0.8", "192.0.2.1",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "ff05::2", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0:7f00:1", "::127.0.0.1", "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "2001:0:4136:e378::1",
])
def test_non_global_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808", "2002:808:808::1"])
def test_global_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://[::1]:8080/", "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[::127.0.0.1]/", "http://[2002:7f00:1::]/",
    "http://100.64.0.1/", "http://198.18.0.1/", "http://[fe80::1]/", "http://[fd00::1]/",
])
def test_urls_naming_a_private_address_are_blocked(url):
    with pytest.raises(BlockedRequest, match="blocked request to non-public address"):
        PUBLIC.check(url)


@pytest.mark.parametrize("host", ["0", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1"])
def test_numeric_spellings_of_loopback_are_blocked_after_real_resolution(host):
    """ipaddress rejects these strings, but getaddrinfo turns them into 127.0.0.1 (or 0.0.0.0)."""
    with pytest.raises(BlockedRequest, match="blocked request to non-public address: (127.0.0.1|0.0.0.0)"):
        AddressPolicy().check(f"http://{host}:18080/")


def test_a_name_resolving_to_a_private_address_is_blocked():
    policy = AddressPolicy(resolver=resolver_of({"internal.example": ["10.1.2.3"]}))
    with pytest.raises(BlockedRequest, match="non-public address: 10.1.2.3"):
        policy.check("https://internal.example/")


def test_a_name_with_any_private_answer_is_blocked():
    policy = AddressPolicy(resolver=resolver_of({"mixed.example": ["93.184.216.34", "127.0.0.1"]}))
    with pytest.raises(BlockedRequest, match="127.0.0.1"):
        policy.check("https://mixed.example/")


def test_the_checked_address_is_the_one_returned_and_the_name_is_resolved_once():
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    calls = []

    def rebinding(host, port):
        calls.append((host, port))
        return next(answers)

    target = AddressPolicy(resolver=rebinding).check("https://rebind.example/path?q=1")
    assert (target.address, target.host, target.port, target.request_target) == (
        "93.184.216.34", "rebind.example", 443, "/path?q=1")
    assert calls == [("rebind.example", 443)]


def test_backslash_userinfo_trick_is_refused():
    """urlsplit sees example.com, requests/urllib3 would connect to 127.0.0.1."""
    with pytest.raises(BlockedRequest, match="backslash"):
        PUBLIC.check("http://127.0.0.1:18080\\@example.com/")


def test_credentials_in_the_url_are_refused():
    with pytest.raises(BlockedRequest, match="credentials in the URL"):
        PUBLIC.check("http://user:pw@example.com/")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "/relative",
                                 "javascript:alert(1)"])
def test_only_http_and_https(url):
    with pytest.raises(BlockedRequest):
        PUBLIC.check(url)


def test_allow_list_opens_exactly_the_named_host_and_port():
    policy = AddressPolicy.from_setting("127.0.0.1:18080, localhost:9000",
                                        resolver=resolver_of({"localhost": ["127.0.0.1"]}))
    assert policy.check("http://127.0.0.1:18080/x").address == "127.0.0.1"
    assert policy.check("http://localhost:9000/").address == "127.0.0.1"
    with pytest.raises(BlockedRequest, match="127.0.0.1"):
        policy.check("http://127.0.0.1:18081/")
    with pytest.raises(BlockedRequest, match="127.0.0.1"):
        policy.check("http://localhost:9001/")


def test_allow_setting_must_be_host_port_pairs():
    with pytest.raises(ValueError, match="host:port"):
        AddressPolicy.from_setting("127.0.0.1")
    assert AddressPolicy.from_setting("").allow == frozenset()
    assert AddressPolicy.from_setting("[::1]:8080").allow == frozenset({("::1", 8080)})
