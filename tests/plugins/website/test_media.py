"""Media uploads: validation, storage, serving, the library API, tenancy and the quota."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image

import sdk
from plugins.website.media import (
    LocalStorage,
    MediaLibrary,
    MediaStorage,
    clean_filename,
    storage_for,
)
from plugins.website.settings import WebsiteSettings

pytestmark = pytest.mark.creator_plugins("website")

PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
    b"trailer <</Root 1 0 R>>\n%%EOF\n"
)


def image(fmt: str, size: tuple[int, int] = (40, 30), *, noise: bool = False, **save: Any) -> bytes:
    """A real image made in memory (``noise``: random pixels, so it does not compress)."""
    if noise:
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        picture = Image.new("RGB", size, (200, 40, 90))
    out = io.BytesIO()
    picture.save(out, fmt, **save)
    return out.getvalue()


def media_url(t: Any, path: str = "") -> str:
    return f"/api/v1/website/groups/{t.group.id}/media{path}"


async def upload(
    t: Any,
    data: bytes,
    filename: str = "picture.png",
    content_type: str = "application/octet-stream",
    alt: str | None = None,
) -> Any:
    fields = {"alt": alt} if alt is not None else None
    return await t.client.post(
        media_url(t), files={"file": (filename, data, content_type)}, data=fields
    )


def library_of(creator_platform: Any) -> MediaLibrary:
    library: MediaLibrary = creator_platform.app.state.website_media
    return library


def stored_files(creator_platform: Any, t: Any) -> list[str]:
    storage = library_of(creator_platform).storage
    assert isinstance(storage, LocalStorage)
    folder = storage.directory / str(t.group.id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


# -- uploading and serving ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "size"),
    [
        (image("PNG", (40, 30)), "image/png", (40, 30)),
        (image("JPEG", (64, 48), quality=80), "image/jpeg", (64, 48)),
        (image("WEBP", (33, 21)), "image/webp", (33, 21)),
        (image("GIF", (12, 10)), "image/gif", (12, 10)),
        (PDF, "application/pdf", (None, None)),
    ],
    ids=["png", "jpeg", "webp", "gif", "pdf"],
)
async def test_an_upload_is_recorded_and_served_to_anyone(
    creator_platform, data, content_type, size
):
    t = await creator_platform.tenant()
    # the client's type and name say nothing true: the bytes decide
    response = await upload(t, data, "../../etc/My photo.bin", "text/html", alt="  A  red box ")
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["content_type"] == content_type
    assert (view["width"], view["height"]) == size
    assert view["size"] == len(data)
    assert view["filename"] == "My photo.bin"
    assert view["alt"] == "A red box"
    ext = {"image/jpeg": "jpg"}.get(content_type, content_type.split("/")[1])
    assert view["url"].startswith(f"/media/{t.group.id}/") and view["url"].endswith(f".{ext}")

    thing = await creator_platform.ontology(t).things.get(uuid.UUID(view["id"]))
    assert thing.type == "media_asset"
    assert thing.properties["sha256"] == hashlib.sha256(data).hexdigest()
    assert thing.properties["storage"] == "local"
    assert view["url"] == f"/media/{thing.properties['storage_key']}"

    events = await creator_platform.ontology(t).events.list(type="media_uploaded")
    assert [e.payload for e in events.items] == [
        {
            "asset_id": view["id"],
            "filename": "My photo.bin",
            "content_type": content_type,
            "size": len(data),
        }
    ]
    assert events.items[0].target_id == thing.id

    served = await creator_platform.client.get(view["url"])  # no credentials
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"].split(";")[0] == content_type
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["x-content-type-options"] == "nosniff"
    disposition = "attachment" if content_type == "application/pdf" else "inline"
    assert served.headers["content-disposition"].startswith(disposition)


async def test_the_stored_size_follows_the_exif_rotation(creator_platform):
    t = await creator_platform.tenant()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    response = await upload(t, image("JPEG", (80, 20), exif=exif.tobytes()), "tall.jpg")
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (20, 80)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "x.png"),
        (b"<!doctype html><html><script>alert(1)</script></html>", "innocent.png"),
        (os.urandom(3000), "noise.jpg"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(500), "broken.png"),  # the magic, then garbage
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "broken.jpg"),
        (b"MZ\x90\x00" + b"\x00" * 100, "setup.pdf"),
    ],
    ids=["svg", "svg-as-png", "html-as-png", "garbage", "bad-png", "bad-jpeg", "exe"],
)
async def test_files_that_are_not_an_accepted_type_are_refused(creator_platform, data, filename):
    t = await creator_platform.tenant()
    response = await upload(t, data, filename, "image/png")
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "image/png" in body["allowed"] and "application/pdf" in body["allowed"]
    if b"svg" in data:
        assert "SVG" in body["detail"]
    assert stored_files(creator_platform, t) == []
    assert (await t.client.get(media_url(t))).json()["items"] == []


async def test_an_empty_file_is_refused(creator_platform):
    t = await creator_platform.tenant()
    assert_problem(await upload(t, b"", "empty.png"), 422, "validation_failed")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def bilevel_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")  # 48 megapixels in a few kilobytes
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [bilevel_png((8000, 6000)), png_header_only(8000, 6000), png_header_only(30000, 30000)],
    ids=["48MP", "48MP-header", "900MP-header"],
)
async def test_images_with_too_many_pixels_are_refused(creator_platform, data):
    t = await creator_platform.tenant()
    body = assert_problem(await upload(t, data, "bomb.png"), 422, "validation_failed")
    assert body["field"] == "file" and "megapixels" in body["detail"]
    assert stored_files(creator_platform, t) == []


async def test_uploads_larger_than_the_setting_are_refused(creator_platform_factory):
    cp = await creator_platform_factory(
        plugins=["website"], plugin_settings={"website": {"media_max_bytes": 2048}}
    )
    t = await cp.tenant()
    small = image("PNG", (8, 8))
    assert len(small) < 2048
    assert (await upload(t, small)).status_code == 201
    big = image("PNG", (40, 40), noise=True)
    assert 2048 < len(big) < 64 * 1024  # inside the multipart slack: the file is measured
    body = assert_problem(await upload(t, big), 413, "payload_too_large")
    assert body["limit"] == 2048
    # announced bigger than the limit: refused before the body is read
    huge = image("PNG", (200, 200), noise=True)
    assert_problem(await upload(t, huge), 413, "payload_too_large")
    assert len(stored_files(cp, t)) == 1


async def test_the_app_body_limit_does_not_cap_uploads(creator_platform):
    t = await creator_platform.tenant()
    data = image("PNG", (800, 600), noise=True)
    assert len(data) > creator_platform.settings.max_body_bytes
    response = await upload(t, data)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(data)


async def test_malformed_upload_requests_are_client_errors(creator_platform):
    t = await creator_platform.tenant()
    url = media_url(t)
    responses = [
        await t.client.post(url, data={"alt": "no file"}, files={"other": ("a.png", b"x")}),
        await t.client.post(url, data={"file": "just text"}),
        await t.client.post(url, json={"file": "nope"}),
        await t.client.post(url),
        await t.client.post(
            url,
            content=b'--xx\r\nContent-Disposition: form-data; name="file"',
            headers={"content-type": "multipart/form-data; boundary=xx"},
        ),
        await t.client.post(url, content=b"", headers={"content-type": "multipart/form-data"}),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    long_alt = await upload(t, image("PNG"), alt="x" * 301)
    assert_problem(long_alt, 422, "validation_failed")
    assert stored_files(creator_platform, t) == []


# -- the library -------------------------------------------------------------------------


async def test_list_get_change_alt_and_delete(creator_platform):
    t = await creator_platform.tenant()
    views = []
    for n in range(3):
        response = await upload(t, image("PNG", (10 + n, 10)), f"p{n}.png")
        assert response.status_code == 201
        views.append(response.json())

    first = (await t.client.get(media_url(t), params={"limit": 2})).json()
    assert [v["id"] for v in first["items"]] == [views[2]["id"], views[1]["id"]]
    rest = await t.client.get(media_url(t), params={"limit": 2, "cursor": first["next_cursor"]})
    assert [v["id"] for v in rest.json()["items"]] == [views[0]["id"]]
    assert rest.json().get("next_cursor") is None
    assert_problem(await t.client.get(media_url(t), params={"limit": 0}), 422, "validation_failed")
    assert_problem(
        await t.client.get(media_url(t), params={"cursor": "!"}), 422, "validation_failed"
    )

    one = views[1]
    got = await t.client.get(media_url(t, f"/{one['id']}"))
    assert got.status_code == 200 and got.json() == one

    changed = await t.client.patch(media_url(t, f"/{one['id']}"), json={"alt": "A small square"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["alt"] == "A small square"
    assert (await t.client.get(media_url(t, f"/{one['id']}"))).json()["alt"] == "A small square"
    assert_problem(
        await t.client.patch(media_url(t, f"/{one['id']}"), json={"alt": "x" * 301}),
        422,
        "validation_failed",
    )
    assert_problem(
        await t.client.patch(media_url(t, f"/{one['id']}"), json={"storage_key": "x"}),
        422,
        "validation_failed",
    )

    path = library_of(creator_platform).storage.path(one["url"].removeprefix("/media/"))
    assert path is not None and path.exists()
    deleted = await t.client.delete(media_url(t, f"/{one['id']}"))
    assert deleted.status_code == 204
    assert not path.exists()
    assert_problem(await t.client.get(media_url(t, f"/{one['id']}")), 404, "not_found")
    assert_problem(await t.client.delete(media_url(t, f"/{one['id']}")), 404, "not_found")
    assert_problem(await creator_platform.client.get(one["url"]), 404, "not_found")
    listed = (await t.client.get(media_url(t))).json()["items"]
    assert [v["id"] for v in listed] == [views[2]["id"], views[0]["id"]]


async def test_other_groups_assets_are_not_found_and_customers_cannot_change_media(
    creator_platform,
):
    owner = await creator_platform.tenant()
    other = await creator_platform.tenant()
    asset = (await upload(owner, image("PNG"))).json()

    for response in [
        await other.client.get(media_url(other, f"/{asset['id']}")),
        await other.client.patch(media_url(other, f"/{asset['id']}"), json={"alt": "mine"}),
        await other.client.delete(media_url(other, f"/{asset['id']}")),
    ]:
        assert_problem(response, 404, "not_found")
    # another group's API is not reachable at all
    assert_problem(await other.client.get(media_url(owner)), 404, "not_found")
    assert_problem(await upload_as(other, owner, image("PNG")), 404, "not_found")
    assert (await other.client.get(media_url(other))).json()["items"] == []

    # the generic things API does not show a group's asset to another group either
    wrong = await other.client.get(f"/api/v1/groups/{other.group.id}/things/{asset['id']}")
    assert wrong.status_code == 404

    customer = await creator_platform.member(owner, "customer")
    assert_problem(await upload(customer, image("PNG")), 403, "forbidden")
    assert_problem(
        await customer.client.delete(media_url(owner, f"/{asset['id']}")), 403, "forbidden"
    )
    assert_problem(
        await customer.client.patch(media_url(owner, f"/{asset['id']}"), json={"alt": "x"}),
        403,
        "forbidden",
    )
    assert_problem(await creator_platform.client.get(media_url(owner)), 401, "unauthorized")
    assert_problem(
        await creator_platform.client.post(
            media_url(owner), files={"file": ("a.png", image("PNG"), "image/png")}
        ),
        401,
        "unauthorized",
    )
    assert (await owner.client.get(media_url(owner, f"/{asset['id']}"))).status_code == 200
    assert len(stored_files(creator_platform, owner)) == 1


async def upload_as(client_of: Any, into: Any, data: bytes) -> Any:
    return await client_of.client.post(
        media_url(into), files={"file": ("a.png", data, "image/png")}
    )


async def test_refs_resolve_only_live_assets_of_the_group(creator_platform):
    t = await creator_platform.tenant()
    other = await creator_platform.tenant()
    mine = (await upload(t, image("PNG", (30, 20)), alt="Mine")).json()
    gone = (await upload(t, image("PNG"))).json()
    theirs = (await upload(other, image("PNG"))).json()
    await t.client.delete(media_url(t, f"/{gone['id']}"))
    refs = await library_of(creator_platform).refs(
        creator_platform.ontology(t),
        {mine["id"], gone["id"], theirs["id"], "not-a-uuid", str(uuid.uuid4()), ""},
    )
    assert set(refs) == {mine["id"]}
    ref = refs[mine["id"]]
    assert (ref.url, ref.width, ref.height, ref.alt) == (mine["url"], 30, 20, "Mine")


# -- the quota ---------------------------------------------------------------------------


async def _use_up(creator_platform: Any, t: Any, uploads: int) -> None:
    payload = {
        "asset_id": str(uuid.uuid4()),
        "filename": "old.png",
        "content_type": "image/png",
        "size": 1,
    }
    await creator_platform.ontology(t).events.emit_many(
        [("media_uploaded", payload, None)] * uploads
    )


async def test_uploads_past_the_monthly_quota_are_refused(creator_platform):
    t = await creator_platform.tenant()
    await _use_up(creator_platform, t, 99)
    assert (await upload(t, image("PNG"))).status_code == 201  # the 100th
    body = assert_problem(await upload(t, image("PNG")), 429, "quota_exceeded")
    assert body["quota"] == "media_uploads" and body["limit"] == 100
    assert len(stored_files(creator_platform, t)) == 1
    # another group's quota is its own
    other = await creator_platform.tenant()
    assert (await upload(other, image("PNG"))).status_code == 201


async def test_concurrent_uploads_cannot_exceed_the_quota(creator_platform):
    t = await creator_platform.tenant()
    await _use_up(creator_platform, t, 97)
    responses = await asyncio.gather(
        *(upload(t, image("PNG", (10 + n, 10)), f"{n}.png") for n in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 201, 429, 429, 429], [r.text for r in responses]
    for response in responses:
        if response.status_code == 429:
            assert response.json()["code"] == "quota_exceeded"
    # the refused uploads left no file behind
    assert len(stored_files(creator_platform, t)) == 3
    usage = await creator_platform.platform.quotas.usage(t.scope)
    assert {q.name: q.usage for q in usage.quotas}["media_uploads"] == 100


# -- the public route --------------------------------------------------------------------


async def test_the_public_route_serves_only_upload_keys(creator_platform):
    t = await creator_platform.tenant()
    view = (await upload(t, image("PNG"))).json()
    key = view["url"].removeprefix("/media/")
    group, name = key.split("/")
    storage = library_of(creator_platform).storage
    assert isinstance(storage, LocalStorage)
    # a file next to the uploads that must never be reachable
    (storage.directory / "secret.txt").write_text("secret")
    anonymous = creator_platform.client
    for path in [
        "/media/secret.txt",
        f"/media/{group}/../secret.txt",
        f"/media/{group}/%2e%2e/secret.txt",
        f"/media/{group}/..%2fsecret.txt",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media//etc/passwd",
        f"/media/{group}/{name}/..",
        f"/media/{group}/{name.replace('.png', '.svg')}",
        f"/media/{uuid.uuid4()}/{name}",  # right name, wrong group
        f"/media/{group}/{'0' * 32}-AAAAAAAAAAA.png",
    ]:
        response = await anonymous.get(path)
        assert response.status_code == 404, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await anonymous.get(view["url"])).status_code == 200


# -- storage -----------------------------------------------------------------------------


async def test_local_storage_keeps_keys_inside_its_directory(tmp_path):
    storage = LocalStorage(tmp_path / "media")
    await storage.save("g/a.png", b"one", "image/png")
    await storage.save("g/a.png", b"two", "image/png")  # replaced whole
    assert await storage.load("g/a.png") == b"two"
    assert storage.path("g/a.png") == tmp_path / "media" / "g" / "a.png"
    assert os.listdir(tmp_path / "media" / "g") == ["a.png"]  # no temporary files left
    await storage.delete("g/a.png")
    await storage.delete("g/a.png")  # gone already: fine
    with pytest.raises(sdk.NotFound):
        await storage.load("g/a.png")
    for key in ["../x", "g/../../x", "/etc/passwd", "", "g//x", "./x", "g\\..\\x", "a\x00b"]:
        with pytest.raises(ValueError):
            storage.path(key)
        with pytest.raises(ValueError):
            await storage.save(key, b"x", "image/png")
    assert not (tmp_path / "x").exists()


class MemoryStorage(MediaStorage):
    """A remote-like backend: no local paths."""

    name = "memory"
    files: ClassVar[dict[str, bytes]] = {}

    @classmethod
    def create(cls, platform: Any, settings: WebsiteSettings, directory: Path) -> MemoryStorage:
        return cls()

    async def save(self, key: str, data: bytes, content_type: str) -> None:
        self.files[key] = data

    async def load(self, key: str) -> bytes:
        try:
            return self.files[key]
        except KeyError:
            raise sdk.NotFound(f"media {key} not found") from None

    async def delete(self, key: str) -> None:
        self.files.pop(key, None)

    def path(self, key: str) -> Path | None:
        return None


class MemoryStoragePlugin:
    @sdk.hookimpl
    def register_media_storage(self) -> list[Any]:
        return [MemoryStorage]


async def test_hook_register_media_storage(creator_platform_factory):
    cp = await creator_platform_factory(
        plugins=["website"],
        extra_plugins={"memstore": MemoryStoragePlugin()},
        plugin_settings={"website": {"media_storage": "memory"}},
    )
    library = library_of(cp)
    assert isinstance(library.storage, MemoryStorage)
    t = await cp.tenant()
    data = image("WEBP")
    view = (await upload(t, data)).json()
    key = view["url"].removeprefix("/media/")
    assert MemoryStorage.files[key] == data
    served = await cp.client.get(view["url"])
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    thing = await cp.ontology(t).things.get(uuid.UUID(view["id"]))
    assert thing.properties["storage"] == "memory"
    assert (await t.client.delete(media_url(t, f"/{view['id']}"))).status_code == 204
    assert key not in MemoryStorage.files

    library.settings.media_storage = "nowhere"
    with pytest.raises(sdk.PlatformError, match="available: local, memory"):
        storage_for(cp.platform, library.settings, Path("/tmp"))


# -- file names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo.png", "photo.png"),
        ("C:\\Users\\me\\Desktop\\photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("  a \t b\n.png  ", "a b .png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("null\x00byte.png", "nullbyte.png"),
        ("...", "upload.png"),
        ("", "upload.png"),
        (None, "upload.png"),
        ("é" * 300 + ".jpeg", "é" * 250 + ".jpeg"),
        ("x" * 300, "x" * 255),
    ],
)
def test_file_names_are_made_safe_to_show(raw, expected):
    assert clean_filename(raw, "png") == expected
