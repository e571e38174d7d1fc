"""Strict URL checking: one parse, one canonical form, exact allowlist matches."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import SplitResult, urlsplit

import idna

from image2ad.net.errors import URLRefused

DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URL_LENGTH = 8192
# Printable ASCII without backslash: no whitespace, control, non-ASCII or backslash tricks.
_URL_CHARS = re.compile(r"[!-\[\]-~]+")
# A bracketed IPv6 literal or LDH name, then an optional port without leading zeros; no userinfo.
_NETLOC = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::(?P<port>[1-9][0-9]{0,4}))?"
)
# WHATWG parses a host whose last label is numeric as an IPv4 number (2130706433, 0x7f.1, 127.1).
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")


@dataclass(frozen=True)
class Target:
    """A checked URL in the exact form we will request."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"

    @property
    def origin(self) -> str:
        """Scheme, host and port only: safe to put in an error message."""
        return f"{self.scheme}://{self.authority}"


@dataclass(frozen=True)
class Allowlist:
    """https hosts (exact names, port 443) and plain-http origins (exact host and port)."""

    https_hosts: frozenset[str]
    http_origins: frozenset[tuple[str, int]]

    @classmethod
    def build(cls, https_hosts: Iterable[str], http_origins: Iterable[str] = ()) -> Allowlist:
        """From configuration: host names, and origins such as `http://127.0.0.1:8000`."""
        origins = set()
        for origin in http_origins:
            try:
                target = parse(origin.rstrip("/"))
            except URLRefused as exc:
                raise ValueError(f"not a plain-http origin: {origin!r} ({exc})") from exc
            if target.scheme != "http" or target.path != "/":
                raise ValueError(f"not a plain-http origin: {origin!r}")
            origins.add((target.host, target.port))
        return cls(frozenset(config_host(h) for h in https_hosts), frozenset(origins))

    def check(self, url: str) -> Target:
        """The URL as a Target if the allowlist admits it; URLRefused otherwise."""
        target = parse(url)
        if target.scheme == "https":
            if target.host not in self.https_hosts:
                raise URLRefused(f"host {target.host} is not on the download allowlist")
        elif (target.host, target.port) not in self.http_origins:
            raise URLRefused(f"plain http is not allowed for {target.origin}")
        return target


def config_host(name: str) -> str:
    """A configured host name in the canonical form URLs are compared in (IDNA, lower case)."""
    try:
        return _canonical_host(
            idna.encode(name.strip(), uts46=True).decode("ascii"), bracketed=False
        )
    except (URLRefused, UnicodeError) as exc:
        raise ValueError(f"not a valid host name: {name!r}") from exc


def parse(url: str) -> Target:
    """Parse and canonicalize an http(s) URL, refusing anything ambiguous."""
    if len(url) > MAX_URL_LENGTH:
        raise URLRefused("URL is too long")
    if not _URL_CHARS.fullmatch(url):
        raise URLRefused("URL contains whitespace, control, non-ASCII or backslash characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise URLRefused("URL cannot be parsed") from exc
    if parts.scheme not in DEFAULT_PORTS:
        raise URLRefused(f"scheme {parts.scheme[:16]!r} is not allowed")
    if "@" in parts.netloc:
        raise URLRefused("URL carries credentials (userinfo)")
    netloc = _NETLOC.fullmatch(parts.netloc)
    if netloc is None:
        raise URLRefused("URL authority is malformed")
    raw_host = netloc["host"].lower()
    bracketed = raw_host.startswith("[")
    host = _canonical_host(raw_host[1:-1] if bracketed else raw_host, bracketed=bracketed)
    default = DEFAULT_PORTS[parts.scheme]
    port = int(netloc["port"]) if netloc["port"] else default
    if parts.scheme == "https" and port != default:
        raise URLRefused("https URLs must use the default port")
    if port > 65535:
        raise URLRefused("URL port is out of range")
    return Target(parts.scheme, host, port, _path(parts))


def _path(parts: SplitResult) -> str:
    if parts.path and not parts.path.startswith("/"):
        raise URLRefused("URL path is malformed")
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def _canonical_host(host: str, *, bracketed: bool) -> str:
    if bracketed:
        try:
            return str(IPv6Address(host))
        except ValueError as exc:
            raise URLRefused("URL has a malformed IPv6 literal") from exc
    try:
        return str(IPv4Address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise URLRefused("host is an IPv4 address in a non-standard form")
    if "" in labels:
        raise URLRefused("host has an empty label")
    try:
        encoded = idna.encode(host, uts46=False).decode("ascii")
    except UnicodeError as exc:
        raise URLRefused("host is not a valid IDNA name") from exc
    if encoded != host:
        raise URLRefused("host is not in canonical form")
    return host
