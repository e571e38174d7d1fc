"""Network faults between the SDK and the real server: an httpx transport that passes requests
on to the live app and, where a test says so, answers instead of it, loses its answer after it
was processed, or cuts a streamed answer short. Nothing about the server is faked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx

Rule = Callable[[httpx.Request], bool]
JOB_READ = re.compile(r"^/api/v1/jobs/[^/]+$")


def never(_: httpx.Request) -> bool:
    return False


def is_events(request: httpx.Request) -> bool:
    return request.url.path.endswith("/events")


def is_create(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path == "/api/v1/jobs"


def is_poll(request: httpx.Request) -> bool:
    return request.method == "GET" and JOB_READ.match(request.url.path) is not None


@dataclass
class Faults:
    """What to do to which request; `times` bounds how often each rule fires."""

    refuse: Rule = never
    refuse_status: int = 503
    refuse_headers: dict[str, str] = field(default_factory=dict)
    lose_answer: Rule = never
    cut_stream: Rule = never
    times: int = 1_000_000
    requests: list[httpx.Request] = field(default_factory=list)
    answers: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)
    fired: int = 0

    def count(self, rule: Rule) -> int:
        return sum(1 for request in self.requests if rule(request))

    def _fires(self, rule: Rule, request: httpx.Request) -> bool:
        if self.fired < self.times and rule(request):
            self.fired += 1
            return True
        return False

    def _refusal(self, request: httpx.Request) -> httpx.Response | None:
        self.requests.append(request)
        if self._fires(self.refuse, request):
            body = {"error": {"code": "refused_by_test", "message": "refused on the way"}}
            headers = self.refuse_headers
            return httpx.Response(self.refuse_status, json=body, headers=headers, request=request)
        return None


class SyncFaults(httpx.BaseTransport):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        refusal = self.faults._refusal(request)
        if refusal is not None:
            return refusal
        response = self._inner.handle_request(request)
        if self.faults._fires(self.faults.lose_answer, request):
            response.read()
            self.faults.answers.append((request, response))
            response.close()
            raise httpx.ReadError("the answer was lost on the way back", request=request)
        if self.faults._fires(self.faults.cut_stream, request):
            return httpx.Response(
                response.status_code, headers=response.headers, stream=_CutSync(response)
            )
        if request.method == "POST":
            response.read()
            self.faults.answers.append((request, response))
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncFaults(httpx.AsyncBaseTransport):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        refusal = self.faults._refusal(request)
        if refusal is not None:
            return refusal
        response = await self._inner.handle_async_request(request)
        if self.faults._fires(self.faults.lose_answer, request):
            await response.aread()
            self.faults.answers.append((request, response))
            await response.aclose()
            raise httpx.ReadError("the answer was lost on the way back", request=request)
        if self.faults._fires(self.faults.cut_stream, request):
            return httpx.Response(
                response.status_code, headers=response.headers, stream=_CutAsync(response)
            )
        if request.method == "POST":
            await response.aread()
            self.faults.answers.append((request, response))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CutSync(httpx.SyncByteStream):
    """The first chunk of the real answer, then a broken connection."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._response.iter_raw():
            yield chunk
            break
        raise httpx.ReadError("the connection broke mid-stream")

    def close(self) -> None:
        self._response.close()


class _CutAsync(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_raw():
            yield chunk
            break
        raise httpx.ReadError("the connection broke mid-stream")

    async def aclose(self) -> None:
        await self._response.aclose()
