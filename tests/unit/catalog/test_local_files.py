"""Local image paths in feeds: only inside the roots, never a data folder, one public message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from modiste.catalog.local_files import (
    NOT_AVAILABLE,
    FileRoots,
    LocalFileRefused,
    public_image_error,
    read_local_image,
)
from modiste.config import Settings
from modiste.errors import FetchError


def photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    return path


def test_inside_the_roots_only(tmp_path: Path) -> None:
    roots = FileRoots.build([tmp_path / "shop-a"])
    inside = photo(tmp_path / "shop-a" / "img" / "a.jpg")
    other = photo(tmp_path / "shop-b" / "b.jpg")
    assert roots.check(inside) == inside.resolve()
    for refused in (other, tmp_path / "shop-a" / ".." / "shop-b" / "b.jpg", Path("/etc/passwd")):
        with pytest.raises(LocalFileRefused, match="outside the folders"):
            roots.check(refused)
    (tmp_path / "shop-a" / "link.jpg").symlink_to(other)  # a symlink is followed, then refused
    with pytest.raises(LocalFileRefused, match=r"resolves to .*shop-b"):
        roots.check(tmp_path / "shop-a" / "link.jpg")


def test_never_a_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", feed_file_roots=[tmp_path])
    roots = FileRoots.for_import(settings, tmp_path)
    with pytest.raises(LocalFileRefused, match="data folder"):
        roots.check(photo(tmp_path / "data" / "images" / "ab" / "x.jpg"))
    (tmp_path / "other-catalog").mkdir()
    (tmp_path / "other-catalog" / "modiste.db").write_bytes(b"")  # another shop's catalog
    with pytest.raises(LocalFileRefused, match="Modiste data folder"):
        roots.check(photo(tmp_path / "other-catalog" / "images" / "cd" / "y.jpg"))


def test_configured_roots_replace_the_feed_folder(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    settings = Settings(data_dir=tmp_path / "data", feed_file_roots=[tmp_path / "photos"])
    roots = FileRoots.for_import(settings, feeds)
    roots.check(photo(tmp_path / "photos" / "a.jpg"))
    with pytest.raises(LocalFileRefused):
        roots.check(photo(feeds / "b.jpg"))
    assert FileRoots.for_import(Settings(data_dir=tmp_path / "d"), feeds).roots == (feeds,)


def test_env_setting_is_a_list_of_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODISTE_FEED_FILE_ROOTS", f'["{tmp_path / "a"}", "{tmp_path / "b"}"]')
    assert Settings().feed_file_roots == [tmp_path / "a", tmp_path / "b"]


def test_read_refuses_a_symlink_swapped_in_after_import(tmp_path: Path) -> None:
    roots = FileRoots.for_fetch(Settings(data_dir=tmp_path / "data"))
    stored = photo(tmp_path / "feed" / "a.jpg").resolve()  # what the importer stored
    assert read_local_image(stored, roots, 10_000)[:2] == b"\xff\xd8"
    secret = photo(tmp_path / "secret" / "s.jpg")
    stored.unlink()
    stored.symlink_to(secret)
    with pytest.raises(FetchError, match="since import"):
        read_local_image(stored, roots, 10_000)


def test_the_api_shows_one_message_for_every_local_failure() -> None:
    for error in ("/srv/a.jpg: file not found or unreadable (No such file)", "/x: not an image"):
        assert public_image_error("/srv/a.jpg", error) == NOT_AVAILABLE
    assert public_image_error("file:///srv/a.jpg", "x") == NOT_AVAILABLE
    assert public_image_error("/srv/a.jpg", None) is None
    url_error = "https://cdn.example/a.jpg: HTTP 404"  # URL reasons stay (fetch.py's rules)
    assert public_image_error("https://cdn.example/a.jpg", url_error) == url_error


def test_read_checks_the_configured_roots_and_the_data_folder_again(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", feed_file_roots=[tmp_path / "feeds"])
    roots = FileRoots.for_fetch(settings)
    for path in (photo(tmp_path / "elsewhere" / "a.jpg"), photo(tmp_path / "data" / "b.jpg")):
        with pytest.raises(FetchError, match=r"outside the folders|data folder"):
            read_local_image(path.resolve(), roots, 10_000)
    assert read_local_image(photo(tmp_path / "feeds" / "c.jpg").resolve(), roots, 10_000)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "feed" / "pipe.jpg"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    roots = FileRoots.for_fetch(Settings(data_dir=tmp_path / "data"))
    with pytest.raises(FetchError, match="not a regular file"):
        read_local_image(fifo, roots, 10_000)
