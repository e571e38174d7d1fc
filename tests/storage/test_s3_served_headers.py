"""Issue 11 finding 7 on S3: the redirect to a presigned URL says nosniff, and the object it leads
to carries its own Content-Type and Content-Disposition (a presigned URL made by obstore cannot
carry response-content-disposition)."""

from __future__ import annotations

import httpx

from tests.fixtures.factories import create_user
from tests.fixtures.s3 import MotoS3
from tests.storage.test_s3_app import S3App, s3_app, wait_job

__all__ = ["s3_app"]  # the module-scoped server this test shares


def test_redirects_and_objects_carry_the_file_headers(s3_app: S3App, moto_s3: MotoS3) -> None:
    owner = create_user(s3_app.db)
    with s3_app.client(owner.headers) as client:
        created = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Lamp"})
        done = wait_job(client, created.json()["id"])
        assert done["status"] == "completed", done
        redirect = client.get(f"/api/v1/jobs/{done['id']}/result")
    assert redirect.status_code == 307
    assert redirect.headers.get("x-content-type-options") == "nosniff"
    direct = httpx.get(redirect.headers["location"])
    assert direct.headers["content-type"] == "image/png"
    assert direct.headers["content-disposition"].startswith("inline; filename=")
