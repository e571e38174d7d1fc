"""The URL parser and the address table on their own: what is refused, and what is kept."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from image2ad.net.addresses import refusal
from image2ad.net.errors import URLRefused
from image2ad.net.urls import Allowlist, config_host, parse

ALLOW = Allowlist.build(
    ["tempfile.aiquickdraw.com", "tempfileb.aiquickdraw.com"], ["http://127.0.0.1:8000"]
)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://tempfile.aiquickdraw.com/p/t_1.png",
            "https://tempfile.aiquickdraw.com/p/t_1.png",
        ),
        ("https://TempFile.AIQuickDraw.com/a?x=1#frag", "https://tempfile.aiquickdraw.com/a?x=1"),
        ("https://tempfile.aiquickdraw.com:443/a", "https://tempfile.aiquickdraw.com/a"),
        ("https://tempfileb.aiquickdraw.com", "https://tempfileb.aiquickdraw.com/"),
        (
            "http://127.0.0.1:8000/_emulator/files/t/a.png",
            "http://127.0.0.1:8000/_emulator/files/t/a.png",
        ),
    ],
)
def test_allowed_urls_are_canonicalized(url: str, canonical: str) -> None:
    assert ALLOW.check(url).url == canonical


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "http://127.0.0.1:8001/",
        "http://127.0.0.1/",
        "https://127.0.0.1:8000/",
        "http://localhost:8000/",
        "http://[::1]:8000/",
        "http://tempfile.aiquickdraw.com/a.png",
        "https://tempfile.aiquickdraw.com.evil.com/",
        "https://eviltempfile.aiquickdraw.com/",
        "https://aiquickdraw.com/",
        "https://tempfile.aiquickdraw.com./",
        "https://tempfile.aiquickdraw.com@evil.com/",
        "https://tempfile.aiquickdraw.com:443@evil.com/",
        "https://user:pw@tempfile.aiquickdraw.com/",
        "https://evil.com\\@tempfile.aiquickdraw.com/",
        "https://tempfile.aiquickdraw.com\\.evil.com/",
        "https://evil.com#@tempfile.aiquickdraw.com/",
        "https://evil.com?@tempfile.aiquickdraw.com/",
        "https://tempfile%2eaiquickdraw.com/",
        "https://tempfile.aiquickdraw.com%2f@evil.com/",
        "https://tempfile\u3002aiquickdraw\u3002com/",
        "https://tempfile.aiquickdraw.com\u0000.evil.com/",
        " https://tempfile.aiquickdraw.com/",
        "https://tempfile.aiquickdraw.com/\r\nHost: evil",
        "https://tempfile.aiquickdraw.com\t/",
        "https://tempfile.aiquickdraw.com:8443/",
        "https://tempfile.aiquickdraw.com:0443/",
        "https://tempfile.aiquickdraw.com:/",
        "https://tempfile.aiquickdraw.com:99999/",
        "https://tempfile.aiquickdraw.com:443:80/",
        "https://[::1%25eth0]/",
        "https://xn--tempfile-.aiquickdraw.com/",
        "https:/tempfile.aiquickdraw.com/",
        "https:tempfile.aiquickdraw.com/",
        "//tempfile.aiquickdraw.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:8000/_",
        "ftp://tempfile.aiquickdraw.com/",
        "javascript:alert(1)",
        "http://2130706433:8000/",
        "http://0x7f000001:8000/",
        "http://0x7f.1:8000/",
        "http://0177.0.0.1:8000/",
        "http://127.1:8000/",
        "http://017700000001:8000/",
        "https://" + "a" * 9000 + ".com/",
    ],
)
def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(URLRefused):
        ALLOW.check(url)


def test_refusal_messages_never_echo_paths_or_credentials() -> None:
    for url in (
        "https://user:secret-token@tempfile.aiquickdraw.com/p?sig=secret-token",
        "https://evil.com/p?sig=secret-token",
        "http://tempfile.aiquickdraw.com/p?sig=secret-token",
    ):
        with pytest.raises(URLRefused) as refused:
            ALLOW.check(url)
        assert "secret-token" not in str(refused.value)


def test_ipv6_literals_are_canonical() -> None:
    target = parse("http://[0:0:0:0:0:FFFF:127.0.0.1]:80/")
    assert (target.host, target.port, target.authority) == ("::ffff:7f00:1", 80, "[::ffff:7f00:1]")


def test_config_hosts_are_normalized_or_rejected() -> None:
    assert config_host(" Cdn.Example.COM ") == "cdn.example.com"
    assert config_host("bücher.example") == "xn--bcher-kva.example"
    for bad in ("a..b", "-a.com", "127.1", "a_b.com", "evil.com/x"):
        with pytest.raises(ValueError):
            config_host(bad)
    with pytest.raises(ValueError):
        Allowlist.build([], ["https://127.0.0.1:8000"])


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "192.0.0.170",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.88.99.1",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::ffff:0:7f00:1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "100::1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "3fff::1",
        "5f00::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "104.21.3.4",
        "2606:4700::6810:1503",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip_address(address)) is None
