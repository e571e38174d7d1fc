"""Finding 2 of issue 11: no published secret signs anything, and links name no user.

The embedded shape generates its own key in the data dir (mode 0600) and reuses it; every other
shape must be given one. A cookie made from a user id, even with the right key, signs no one in:
sessions live on the server. Result links carry no user id.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

from image2ad.auth.sessions import COOKIE_NAME
from image2ad.config import Settings
from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.secret_key import FILE_NAME, PUBLISHED, signing_key
from tests.fixtures.factories import create_user
from tests.fixtures.hostile import report
from tests.fixtures.live_app import LiveApp
from tests.fixtures.processes import ServerProcess, free_port
from tests.web.session import Browserish

PUBLISHED_KEY = "image2ad-dev-secret-change-me"


def forged_cookie(key: str, user_id: str, **extra: str) -> str:
    signer = URLSafeTimedSerializer(key, salt="image2ad.session")
    return signer.dumps({"c": "forged-csrf", "u": user_id, **extra})


def me_with_cookie(base_url: str, cookie: str) -> int:
    with httpx.Client(base_url=base_url, cookies={COOKIE_NAME: cookie}, timeout=30) as client:
        return client.get("/api/v1/me").status_code


@dataclass
class Served:
    base_url: str
    db: Database


@pytest.fixture
def default_shape(tmp_path: Path) -> Iterator[Served]:
    """`make run`'s shape, served for real: `image2ad serve` on SQLite in its own process, with
    IMAGE2AD_SECRET_KEY and every other setting unset but the data dir."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IMAGE2AD_", "KIE_"))},
        "IMAGE2AD_DATA_DIR": str(tmp_path),
    }
    url = Settings(data_dir=tmp_path).resolved_database_url
    upgrade(url)  # as `make run` does before it serves
    port = free_port()
    server = ServerProcess(env, port, tmp_path / "server.log")
    server.env = env
    server.start()
    db = Database(url)
    try:
        yield Served(server.base_url, db)
    finally:
        server.stop()
        db.dispose()


def test_the_published_key_signs_nothing_in_the_default_shape(
    default_shape: Served, tmp_path: Path
) -> None:
    base_url = default_shape.base_url
    user = create_user(default_shape.db)
    status = me_with_cookie(base_url, forged_cookie(PUBLISHED_KEY, user.id))
    assert report(
        "2. account takeover with the development secret",
        "tests/security/test_signing_key.py::test_the_published_key_signs_nothing_in_the_default_shape",
        expected="cookie signed with the published key + a user id: 401",
        observed=f"GET /api/v1/me -> {status}",
        passed=status == 401,
    )
    key_file = tmp_path / FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert key not in PUBLISHED and len(key) >= 32
    # Signing in works, and with the generated key: the session cookie is signed with it.
    with Browserish(default_shape) as browser:
        assert browser.login(user.email).status_code == 303
        assert browser.api("GET", "/api/v1/me").json()["id"] == user.id
        cookie = browser.http.cookies[COOKIE_NAME]
        URLSafeTimedSerializer(key, salt="image2ad.session").loads(cookie)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/healthz").status_code == 200


def test_the_generated_key_is_kept_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.sqlite'}")
    first = signing_key(settings)
    assert signing_key(settings) == first
    assert signing_key(Settings(data_dir=tmp_path)) == first  # a later start of the same data dir
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600
    (tmp_path / FILE_NAME).chmod(0o644)
    assert signing_key(settings) == first
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret_key": PUBLISHED_KEY},
        {"secret_key": "short"},
        {"database_url": "postgresql://db.example/image2ad"},
        {"kie": {"api_key": "real-kie-key"}},
    ],
    ids=["published", "short", "postgres-without-key", "real-kie-without-key"],
)
def test_no_key_no_start(tmp_path: Path, overrides: dict[str, Any]) -> None:
    settings = Settings(data_dir=tmp_path, **overrides)
    with pytest.raises(SystemExit, match="IMAGE2AD_SECRET_KEY"):
        settings.check_secrets()
    assert not (tmp_path / FILE_NAME).exists()


def test_result_links_live_at_most_15_minutes() -> None:
    assert Settings().result_link_ttl_s == 900
    with pytest.raises(ValueError, match="less than or equal to 900"):
        Settings(result_link_ttl_s=3600)


def test_a_cookie_made_from_a_user_id_signs_no_one_in(live_app: LiveApp) -> None:
    """Even with the deployment's own key: who is signed in is decided by the sessions table."""
    user = live_app.user()
    key = live_app.app.state.runtime.secret_key
    statuses = [
        me_with_cookie(live_app.base_url, forged_cookie(key, user.id)),
        me_with_cookie(live_app.base_url, forged_cookie(key, user.id, s="guessed-token")),
    ]
    assert report(
        "2. account takeover with the development secret",
        f"tests/security/test_signing_key.py::test_a_cookie_made_from_a_user_id_signs_no_one_in"
        f"[{live_app.backend}]",
        expected="validly signed cookie naming a user id (or a guessed session): 401",
        observed=f"GET /api/v1/me -> {statuses}",
        passed=statuses == [401, 401],
    )


def test_result_links_carry_no_user_id(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        created = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Lemons"})
        assert created.status_code == 202, created.text
        job = live_app.wait_job(client, created.json()["id"])
        assert job["status"] == "completed"
        url = job["result_url"]
        token = url.rsplit("/", 1)[1]
        # What anyone holding the link can read, without the key.
        _, payload = URLSafeTimedSerializer(
            "not-the-key", salt="image2ad.result-link"
        ).loads_unsafe(token)
        readable = f"{url} {payload}"
        assert report(
            "2. user ids readable in shared result links",
            f"tests/security/test_signing_key.py::test_result_links_carry_no_user_id"
            f"[{live_app.backend}]",
            expected="no user id in the link or its decoded payload",
            observed=f"payload {payload}",
            passed=user.id not in readable,
        )
        served = client.get(url)
        assert served.status_code == 200 and served.content
        assert client.get(url[:-4] + "AAAA").status_code == 404
