"""The policy the pipeline downloads with, built from settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from image2ad.config import DownloadSettings, KieSettings, Settings
from image2ad.net.errors import URLRefused
from image2ad.runtime import Runtime


def runtime(**overrides: Any) -> Runtime:
    settings = Settings(host="0.0.0.0", port=8123, **overrides)
    return Runtime(settings, db=None, storage=None, catalog=None, signer=None)  # type: ignore[arg-type]


def test_embedded_policy_allows_the_cdn_and_only_our_emulator_origin() -> None:
    policy = runtime(kie=KieSettings(api_key=None)).download_policy()
    allow = policy.allowlist
    assert allow.http_origins == {("127.0.0.1", 8123)}
    allow.check("http://127.0.0.1:8123/_emulator/files/t/a.png")
    allow.check("https://tempfile.aiquickdraw.com/p/a.png")
    allow.check("https://tempfileb.aiquickdraw.com/p/a.png")
    for refused in ("http://127.0.0.1:8124/", "http://localhost:8123/", "http://0.0.0.0:8123/"):
        with pytest.raises(URLRefused):
            allow.check(refused)


def test_real_kie_policy_has_no_plain_http_and_reads_the_limits() -> None:
    rt = runtime(
        kie=KieSettings(api_key="k"),
        max_result_bytes=1000,
        download=DownloadSettings(
            hosts=["Cdn.Example.com"], timeout_s=60, min_rate=512, rate_window_s=5
        ),
    )
    policy = rt.download_policy()
    assert policy.allowlist.http_origins == frozenset()
    assert "cdn.example.com" in policy.allowlist.https_hosts
    assert (policy.max_bytes, policy.timeout_s, policy.min_rate, policy.rate_window_s) == (
        1000,
        60,
        512,
        5,
    )
    with pytest.raises(URLRefused):
        policy.allowlist.check("http://127.0.0.1:8123/_emulator/files/t/a.png")


def test_download_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE2AD_DOWNLOAD_HOSTS", "cdn.example.com, Bücher.example")
    assert DownloadSettings().hosts == ["cdn.example.com", "xn--bcher-kva.example"]
    monkeypatch.setenv("IMAGE2AD_DOWNLOAD_HOSTS", "cdn.example.com/path")
    with pytest.raises(ValidationError):
        DownloadSettings()
