"""Example images by name, and downloads tested against a local HTTP server only."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from pathlib import Path

import pytest
from PIL import Image

import stylelab as sl
from stylelab.imaging.download import download


def test_every_example_loads_and_is_documented():
    sources = (sl.data.images_dir() / "SOURCES.md").read_text()
    assert len(sl.data.names("content")) >= 4 and len(sl.data.names("style")) >= 4
    for name in sl.data.names():
        image = sl.data.example(name, size=64)
        assert image.shape[:2] == (1, 3) and max(image.shape[-2:]) == 64
        assert f"`{sl.data.EXAMPLES[name].file}`" in sources, name
    files = {p.name for p in sl.data.images_dir().iterdir() if p.suffix in (".jpg", ".png")}
    assert files == {e.file for e in sl.data.EXAMPLES.values()}  # nothing undocumented
    assert re.search(r"public domain|CC0", sources)


def test_unknown_example_name():
    with pytest.raises(sl.ImageNotFoundError, match="Did you mean 'chelsea'"):
        sl.data.example("chelsee")
    with pytest.raises(ValueError, match="kind must be"):
        sl.data.names("paintings")


def test_images_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLELAB_IMAGES", str(tmp_path / "missing"))
    with pytest.raises(sl.ImageNotFoundError, match="STYLELAB_IMAGES"):
        sl.data.example("chelsea")


@pytest.fixture()
def server(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    Image.new("RGB", (40, 30), (250, 20, 20)).save(folder / "red.png")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", folder
    httpd.shutdown()


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_fetch_image_downloads_once_and_checks_hash(server, tmp_path, monkeypatch):
    url, folder = server
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256((folder / "red.png").read_bytes()).hexdigest()
    image = sl.data.fetch_image(f"{url}/red.png", sha256=digest, size=20)
    assert image.shape == (1, 3, 15, 20) and image[0, 0].mean() > 0.9
    (folder / "red.png").unlink()  # served no more: the cached copy is used
    assert sl.data.fetch_image(f"{url}/red.png", sha256=digest).shape == (1, 3, 30, 40)
    Image.new("RGB", (4, 4)).save(folder / "other.png")
    with pytest.raises(sl.DownloadError, match="SHA-256"):
        sl.data.fetch_image(f"{url}/other.png", sha256="0" * 64)
    assert not any(sl.files.is_temporary(p.name) or p.suffix == ".part" for p in (tmp_path / "cache" / "images").iterdir())


def test_download_errors_are_clear(server, tmp_path):
    url, _ = server
    with pytest.raises(sl.DownloadError, match="Could not download .*copy the file to"):
        download(f"{url}/missing.png", tmp_path / "x.png", timeout=5)
    with pytest.raises(sl.DownloadError, match="Could not download"):
        download("http://127.0.0.1:9/nothing.png", tmp_path / "y.png", timeout=2)
    assert not Path(tmp_path / "x.png").exists()
