import base64
import io
import re

import httpx
import pytest
from PIL import Image

from tests.fixtures.emulator import RunningEmulator, create_task, record_info

UPLOAD_KEYS = {
    "success",
    "fileName",
    "filePath",
    "downloadUrl",
    "fileSize",
    "mimeType",
    "uploadedAt",
}


def png_bytes(size: tuple[int, int] = (8, 4)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def assert_uploaded(reply: httpx.Response, emu: RunningEmulator, data: bytes) -> dict:
    assert reply.status_code == 200
    body = reply.json()
    assert body["success"] is True
    assert body["code"] == 200
    assert body["msg"] == "File uploaded successfully"
    info = body["data"]
    assert set(info) == UPLOAD_KEYS
    assert info["fileSize"] == len(data)
    assert info["downloadUrl"] == f"{emu.base_url}/tempfile/{info['filePath']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", info["uploadedAt"])
    served = httpx.get(info["downloadUrl"])
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == info["mimeType"]
    return dict(info)


def test_stream_upload_round_trips_the_bytes(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    data = png_bytes()

    reply = shared_kie.post(
        "/api/file-stream-upload",
        files={"file": ("ignored.png", data, "image/png")},
        data={"uploadPath": "images/user-1", "fileName": "ref.png"},
    )

    info = assert_uploaded(reply, shared_emulator, data)
    assert info["fileName"] == "ref.png"
    assert re.fullmatch(r"kieai/\d{6}/images/user-1/ref\.png", info["filePath"])
    assert info["mimeType"] == "image/png"


def test_stream_upload_without_a_name_gets_a_random_one(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    data = png_bytes()

    reply = shared_kie.post(
        "/api/file-stream-upload",
        files={"file": ("photo", data, "image/png")},
        data={"uploadPath": "images"},
    )

    info = assert_uploaded(reply, shared_emulator, data)
    assert re.fullmatch(r"\d{13}-[0-9a-f]{10}\.png", info["fileName"])


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,"])
def test_base64_upload_round_trips_the_bytes(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client, prefix: str
) -> None:
    data = png_bytes()
    encoded = prefix + base64.b64encode(data).decode()

    reply = shared_kie.post(
        "/api/file-base64-upload",
        json={"base64Data": encoded, "uploadPath": "b64", "fileName": "a.png"},
    )

    info = assert_uploaded(reply, shared_emulator, data)
    assert info["mimeType"] == "image/png"


def test_invalid_base64_is_400(shared_kie: httpx.Client) -> None:
    reply = shared_kie.post(
        "/api/file-base64-upload", json={"base64Data": "@@not base64@@", "uploadPath": "b64"}
    )

    assert reply.status_code == 400
    assert reply.json() == {
        "success": False,
        "code": 400,
        "msg": "Base64 decoding failed: Invalid Base64 format",
    }


def test_url_upload_copies_files_we_serve(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    data = png_bytes()
    first = shared_kie.post(
        "/api/file-base64-upload",
        json={"base64Data": base64.b64encode(data).decode(), "uploadPath": "src"},
    ).json()["data"]

    reply = shared_kie.post(
        "/api/file-url-upload",
        json={"fileUrl": first["downloadUrl"], "uploadPath": "copies", "fileName": "copy.png"},
    )

    info = assert_uploaded(reply, shared_emulator, data)
    assert info["filePath"].endswith("/copies/copy.png")


def test_url_upload_copies_a_result_file(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    task_id = create_task(shared_kie)
    shared_emulator.state.force_success(task_id)
    result_url = record_info(shared_kie, task_id)["resultJson"].split('"')[3]

    reply = shared_kie.post(
        "/api/file-url-upload", json={"fileUrl": result_url, "uploadPath": "copies"}
    )

    assert reply.json()["data"]["mimeType"] == "image/png"
    assert httpx.get(reply.json()["data"]["downloadUrl"]).content == httpx.get(result_url).content


def test_url_upload_never_fetches_external_urls(shared_kie: httpx.Client) -> None:
    reply = shared_kie.post(
        "/api/file-url-upload",
        json={"fileUrl": "http://169.254.169.254/latest/meta-data", "uploadPath": "x"},
    )

    assert reply.status_code == 400
    assert reply.json()["success"] is False


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/api/file-stream-upload", {"files": {"file": ("a.png", b"x", "image/png")}}),
        ("/api/file-base64-upload", {"json": {"base64Data": "aGk="}}),
        ("/api/file-url-upload", {"json": {"fileUrl": "https://example.com/a.png"}}),
        ("/api/file-base64-upload", {"json": {"base64Data": "aGk=", "uploadPath": "/"}}),
    ],
)
def test_missing_upload_path_is_400(shared_kie: httpx.Client, path: str, kwargs: dict) -> None:
    reply = shared_kie.post(path, **kwargs)

    assert reply.status_code == 400
    assert reply.json() == {
        "success": False,
        "code": 400,
        "msg": "Missing required parameter: uploadPath",
    }


def test_reusing_a_name_overwrites_the_file(
    shared_emulator: RunningEmulator, shared_kie: httpx.Client
) -> None:
    urls = []
    for payload in (b"first", b"second"):
        reply = shared_kie.post(
            "/api/file-base64-upload",
            json={
                "base64Data": base64.b64encode(payload).decode(),
                "uploadPath": "same",
                "fileName": "note.txt",
            },
        )
        urls.append(reply.json()["data"]["downloadUrl"])

    assert urls[0] == urls[1]
    assert httpx.get(urls[0]).content == b"second"


def test_unknown_upload_is_404(shared_emulator: RunningEmulator) -> None:
    assert httpx.get(shared_emulator.base_url + "/tempfile/kieai/1/none.png").status_code == 404


def test_download_url_accepts_upload_urls(shared_kie: httpx.Client) -> None:
    url = shared_kie.post(
        "/api/file-base64-upload", json={"base64Data": "aGk=", "uploadPath": "dl"}
    ).json()["data"]["downloadUrl"]

    reply = shared_kie.post("/api/v1/common/download-url", json={"url": url}).json()

    assert reply["data"] == url
