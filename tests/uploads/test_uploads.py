"""POST /api/v1/uploads: the file's bytes decide; bad files get clear 413/415/422."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.fixtures.images import image_bytes, jpeg_with_exif, png_bomb
from tests.fixtures.live_app import LiveApp


def upload(client, data: bytes, name: str = "photo.png", content_type: str = "image/png"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/uploads", files={"file": (name, data, content_type)})


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_accepts_png_jpeg_webp_and_reports_size(live_app: LiveApp, fmt: str) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        response = upload(
            client, image_bytes(fmt, (120, 80)), name="x.bin", content_type="text/plain"
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["content_type"] == f"image/{fmt.lower()}"
        assert (body["width"], body["height"]) == (120, 80) and body["size"] > 0
        stored = client.get(f"/api/v1/uploads/{body['id']}/file")
        assert stored.status_code == 200
        assert Image.open(io.BytesIO(stored.content)).format == fmt


def test_metadata_is_stripped(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        body = upload(client, jpeg_with_exif(), "cam.jpg", "image/jpeg").json()
        stored = client.get(f"/api/v1/uploads/{body['id']}/file").content
    assert b"SecretCam" not in stored and b"leaky-software" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GIF89a" + b"\x00" * 100, 415),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
        (b"%PDF-1.7 fake", 415),
        (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10, 422),
        (b"\xff\xd8\xff" + b"garbage", 422),
    ],
    ids=["gif", "svg", "pdf", "fake-png-magic", "fake-jpeg-magic"],
)
def test_refuses_files_that_are_not_our_images(live_app: LiveApp, data: bytes, status: int) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        response = upload(client, data)
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"]


def test_refuses_a_png_with_a_jpeg_polyglot_tail_as_the_png_it_is(live_app: LiveApp) -> None:
    user = live_app.user()
    data = image_bytes("PNG") + image_bytes("JPEG")
    with live_app.client(user) as client:
        body = upload(client, data, "x.jpg", "image/jpeg").json()
        stored = client.get(f"/api/v1/uploads/{body['id']}/file").content
    assert body["content_type"] == "image/png" and image_bytes("JPEG") not in stored


def test_refuses_oversize_files_with_413(live_app: LiveApp) -> None:
    user = live_app.user()
    big = image_bytes("PNG") + b"\x00" * (10 * 1024 * 1024)
    with live_app.client(user) as client:
        response = upload(client, big)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


def test_refuses_a_decompression_bomb_from_its_header(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        for side in (9_000, 30_000):
            response = upload(client, png_bomb(side))
            assert response.status_code == 422
            assert "megapixels" in response.json()["error"]["message"]


def test_file_name_never_reaches_the_storage_key(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        body = upload(client, image_bytes(), name="../../etc/passwd\x00.png").json()
    with live_app.db.session(read_only=True) as session:
        from image2ad.models import Upload

        stored = session.get_one(Upload, body["id"])
        assert stored.storage_key == f"uploads/{user.id}/{body['id']}.png"
        assert "/" not in stored.original_name and "\x00" not in stored.original_name


def test_uploads_are_private(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(), live_app.user()
    with live_app.client(owner) as client:
        upload_id = upload(client, image_bytes()).json()["id"]
    with live_app.client(stranger) as client:
        assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404
        assert client.get(f"/api/v1/uploads/{upload_id}/file").status_code == 404
        job = client.post(
            "/api/v1/jobs",
            json={
                "type": "image-to-image",
                "prompt": "make it blue",
                "source_upload_id": upload_id,
            },
        )
        assert job.status_code == 422
        assert job.json()["error"]["field"] == "source_upload_id"
    with live_app.client() as anonymous:
        assert upload(anonymous, image_bytes()).status_code == 401
