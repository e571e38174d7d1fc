"""Why a safe fetch stopped. Messages name hosts and limits, never paths, queries or userinfo."""

from __future__ import annotations


class FetchError(Exception):
    """A safe fetch did not deliver the whole body."""


class FetchRefused(FetchError):
    """The URL, an address, a redirect or the response breaks the policy; retrying will not help."""


class FetchFailed(FetchError):
    """Network trouble, a slow or truncated transfer, or a 5xx; a retry may succeed."""


class URLRefused(FetchRefused):
    """The URL is malformed, uses a refused scheme or port, or names a host off the allowlist."""


class AddressRefused(FetchRefused):
    """A host resolved to an address we never connect to (loopback, private, link-local…)."""


class RedirectRefused(FetchRefused):
    """A redirect pointed somewhere refused, downgraded to http, or the chain was too long."""


class ResponseRefused(FetchRefused):
    """The server answered with a status or encoding we do not accept."""


class TooLarge(FetchRefused):
    """The body is (or declares itself) larger than the cap."""


class TooSlow(FetchFailed):
    """The transfer stalled, fell below the minimum rate, or ran past the total time cap."""


class Truncated(FetchFailed):
    """The connection ended before the whole body arrived."""
