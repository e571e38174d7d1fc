"""Endpoint URLs and sends against a resolver we control: a name that resolves to an inside
address is refused at creation and at every send, before any connection is made."""

from __future__ import annotations

from ipaddress import ip_address

import httpcore
import pytest

from image2ad.errors import InvalidInput
from image2ad.net.addresses import IPAddress
from image2ad.net.errors import AddressRefused
from image2ad.net.safe_post import PostPolicy, post
from image2ad.webhooks.service import checked_url


class Resolver:
    """Answers names from a table and counts connection attempts (none may happen)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.connects: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        return [ip_address(a) for a in self.answers[host]]

    async def connect(self, ip: IPAddress, port: int) -> httpcore.AsyncNetworkStream:
        self.connects.append(f"{ip}:{port}")
        raise httpcore.ConnectError("no network in this test")


@pytest.mark.parametrize("inside", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "fd00::1"])
async def test_a_name_resolving_inside_is_refused(inside: str) -> None:
    resolver = Resolver({"hooks.example.com": ["93.184.216.34", inside]})
    with pytest.raises(InvalidInput) as refused:
        await checked_url("https://hooks.example.com/in", allow_private=False, network=resolver)
    assert refused.value.extra["field"] == "url"
    with pytest.raises(AddressRefused):
        await post(
            "https://hooks.example.com/in",
            b"{}",
            {},
            PostPolicy(timeout_s=2, network=resolver),
        )
    assert resolver.connects == []


async def test_a_public_name_is_accepted_in_canonical_form() -> None:
    resolver = Resolver({"hooks.example.com": ["93.184.216.34"]})
    url = await checked_url(
        "HTTPS://Hooks.Example.com/in?x=1", allow_private=False, network=resolver
    )
    assert url == "https://hooks.example.com/in?x=1"


async def test_the_flag_admits_the_endpoints_own_inside_address() -> None:
    resolver = Resolver({"hooks.internal": ["10.0.0.5"]})
    url = await checked_url("http://hooks.internal:8080/in", allow_private=True, network=resolver)
    assert url == "http://hooks.internal:8080/in"
    with pytest.raises(Exception, match="could not connect"):
        await post(url, b"{}", {}, PostPolicy(timeout_s=2, allow_private=True, network=resolver))
    assert resolver.connects == ["10.0.0.5:8080"]
