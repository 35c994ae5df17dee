"""Channel profiles: a regulation (gallery order) plus the image rules a sales channel enforces.

A profile is data, like a regulation: a marketplace's rules are written down once, from its public
image guideline (named in ``source:``), and every number lives in the YAML. User profiles in
DATA_DIR/profiles replace shipped ones of the same name (see docs/decisions/compliance-profiles.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modiste.config import Settings
from modiste.errors import ConfigError, NotFoundError
from modiste.gallery._yaml import check_keys, read_mapping
from modiste.gallery.regulation import (
    Regulation,
    name_list,
    resolve_regulation,
    saved_regulation_dirs,
)
from modiste.gallery.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

MAIN, ALL = "main", "all"
# Each rule kind and the parameters it takes (beyond id, kind, applies_to, message).
RULE_PARAMS: dict[str, tuple[str, ...]] = {
    "background": ("color", "tolerance", "min_share"),
    "fill": ("min", "max"),
    "min_size": ("long_side", "width", "height"),
    "aspect": ("ratio", "tolerance"),
    "max_bytes": ("bytes",),
    "format": ("allowed",),
    "text": ("min_chars",),
    "duplicate": (),
    "required_shot": ("shots",),
    "main_shot": ("allowed",),
    "max_images": ("max",),
}
# Rules about the gallery as a whole: they apply to no single image.
GALLERY_KINDS = frozenset({"required_shot", "main_shot", "max_images"})
FORMATS = ("jpeg", "png", "webp", "gif", "bmp", "tiff")
_TOP_KEYS = ("name", "description", "source", "regulation", "rules")
_RULE_KEYS = ("id", "kind", "applies_to", "message")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass(frozen=True, slots=True)
class ImageRule:
    """One rule: what it measures (``kind``), on which images, and its limits (``params``)."""

    id: str
    kind: str
    applies_to: str = ALL  # "main", "all", or a shot class
    params: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None  # the channel's own words, shown instead of the generated one

    def applies(self, label: str | None, is_main: bool) -> bool:
        if self.applies_to == ALL:
            return True
        if self.applies_to == MAIN:
            return is_main
        return label == self.applies_to

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "applies_to": self.applies_to}
        out.update(self.params)
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class Profile:
    name: str
    regulation: Regulation
    rules: tuple[ImageRule, ...]
    description: str = ""
    source: str = ""  # where the channel publishes these rules (a URL)
    path: Path | None = field(default=None, compare=False)

    def rule(self, rule_id: str) -> ImageRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise NotFoundError(f"profile {self.name!r} has no rule {rule_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "regulation": self.regulation.name,
            "rules": [r.to_dict() for r in self.rules],
        }


def shipped_profiles_dir() -> Path:
    return Path(str(resources.files("modiste.compliance").joinpath("data", "profiles")))


def profile_dirs(settings: Settings | None) -> list[Path]:
    """Shipped profiles first, then DATA_DIR/profiles (a later file replaces an earlier name)."""
    dirs = [shipped_profiles_dir()]
    if settings is not None and settings.profiles_dir.is_dir():
        dirs.append(settings.profiles_dir)
    return dirs


def _profile_files(settings: Settings | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in profile_dirs(settings):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            if path.stem in found:
                log.info("profile %r from %s replaces %s", path.stem, path, found[path.stem])
            found[path.stem] = path
    return found


def list_profiles(settings: Settings | None = None) -> list[str]:
    """Names of the shipped profiles and those saved in DATA_DIR/profiles, sorted."""
    return sorted(_profile_files(settings))


def load_profile(
    name_or_path: str | Path,
    settings: Settings | None = None,
    *,
    taxonomy: Taxonomy | None = None,
) -> Profile:
    """A profile by name (saved over shipped) or from a YAML file.

    Raises:
        NotFoundError: no file and no profile of that name (the message lists the names).
        ConfigError: the file is invalid; the message names the file and the field.
    """
    ref = str(name_or_path)
    files = _profile_files(settings)
    path = files.get(ref) if _NAME.match(ref) else None
    if path is None:
        candidate = Path(name_or_path)
        if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
            path = candidate
    if path is None:
        raise NotFoundError(f"no profile {ref!r}; known profiles: {', '.join(sorted(files))}")
    data = read_mapping(path, "profile")
    return profile_from_dict(data, settings, taxonomy=taxonomy, source=path)


def profile_from_dict(
    data: Mapping[str, Any],
    settings: Settings | None = None,
    *,
    taxonomy: Taxonomy | None = None,
    source: Path | None = None,
) -> Profile:
    """Build and validate a profile; every error names the file and the field."""
    where = f"profile {source}" if source else "profile"
    taxonomy = taxonomy or load_taxonomy()
    check_keys(data, _TOP_KEYS, where)
    name = data.get("name") or (source.stem if source else None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: 'name' must be a short name (letters, digits, _ . -)")
    regulation = _regulation(data.get("regulation"), settings, taxonomy, f"{where}: regulation")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{where}: 'rules' must be a list of rules")
    rules = [_rule(r, taxonomy, f"{where}: rules[{i}]") for i, r in enumerate(raw_rules)]
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{where}: rule id(s) {', '.join(dupes)} given more than once")
    for key in ("description", "source"):
        if not isinstance(data.get(key) or "", str):
            raise ConfigError(f"{where}: '{key}' must be text")
    return Profile(
        name=name,
        regulation=regulation,
        rules=tuple(rules),
        description=str(data.get("description") or "").strip(),
        source=str(data.get("source") or "").strip(),
        path=source,
    )


def _regulation(
    value: Any, settings: Settings | None, taxonomy: Taxonomy, where: str
) -> Regulation:
    """A named regulation (shipped or saved), or one written inside the profile."""
    if value is None:
        return resolve_regulation(None, taxonomy=taxonomy)
    if isinstance(value, str):
        dirs = saved_regulation_dirs(settings) if settings is not None else []
        try:
            return resolve_regulation(value, dirs, taxonomy=taxonomy)
        except (NotFoundError, ConfigError) as e:
            raise ConfigError(f"{where}: {e}") from e
    if isinstance(value, Mapping):
        try:
            return Regulation.from_dict(value, taxonomy)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from e
    raise ConfigError(f"{where}: a regulation name or an embedded regulation mapping")


def _rule(data: Any, taxonomy: Taxonomy, where: str) -> ImageRule:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping with id, kind and parameters")
    kind = data.get("kind")
    if kind not in RULE_PARAMS:
        raise ConfigError(f"{where}: 'kind' must be one of {', '.join(RULE_PARAMS)}; got {kind!r}")
    check_keys(data, (*_RULE_KEYS, *RULE_PARAMS[kind]), f"{where} ({kind})")
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not _NAME.match(rule_id):
        raise ConfigError(f"{where}: 'id' must be a short name (letters, digits, _ . -)")
    where = f"{where} ({rule_id})"
    applies_to = data.get("applies_to", MAIN if kind == "main_shot" else ALL)
    if not isinstance(applies_to, str):
        raise ConfigError(f"{where}: 'applies_to' must be main, all or a shot class")
    if applies_to not in (MAIN, ALL):
        taxonomy.expand([applies_to], f"{where}: applies_to")
    if kind in GALLERY_KINDS and applies_to != (MAIN if kind == "main_shot" else ALL):
        raise ConfigError(f"{where}: a {kind} rule is about the gallery; drop 'applies_to'")
    params = {k: data[k] for k in RULE_PARAMS[kind] if k in data}
    params = _check_params(kind, params, taxonomy, where)
    message = data.get("message")
    if message is not None and not isinstance(message, str):
        raise ConfigError(f"{where}: 'message' must be text")
    return ImageRule(rule_id, kind, applies_to, params, message)


def _number(params: dict[str, Any], key: str, where: str, *, lo: float, hi: float) -> None:
    if key not in params:
        return
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ConfigError(f"{where}: '{key}' must be a number from {lo:g} to {hi:g}; got {v!r}")


def _check_params(
    kind: str, params: dict[str, Any], taxonomy: Taxonomy, where: str
) -> dict[str, Any]:
    """Validate a rule's parameters and put them in one form (colours as RGB, ratios as w/h)."""
    if kind == "background":
        params["color"] = parse_color(params.get("color", [255, 255, 255]), where)
        params.setdefault("tolerance", 8)
        params.setdefault("min_share", 0.97)
        _number(params, "tolerance", where, lo=0, hi=255)
        _number(params, "min_share", where, lo=0, hi=1)
    elif kind == "fill":
        if "min" not in params and "max" not in params:
            raise ConfigError(f"{where}: a fill rule needs 'min', 'max' or both (0 to 1)")
        _number(params, "min", where, lo=0, hi=1)
        _number(params, "max", where, lo=0, hi=1)
        if params.get("min", 0) > params.get("max", 1):
            raise ConfigError(f"{where}: 'min' is above 'max'")
    elif kind == "min_size":
        if not params:
            raise ConfigError(f"{where}: a min_size rule needs long_side, width or height")
        for key in ("long_side", "width", "height"):
            _number(params, key, where, lo=1, hi=100_000)
    elif kind == "aspect":
        if "ratio" not in params:
            raise ConfigError(f"{where}: an aspect rule needs 'ratio' (e.g. \"1:1.44\", w:h)")
        params["ratio"] = parse_ratio(params["ratio"], where)
        params.setdefault("tolerance", 0.02)
        _number(params, "tolerance", where, lo=0, hi=1)
    elif kind == "max_bytes":
        if "bytes" not in params:
            raise ConfigError(f"{where}: a max_bytes rule needs 'bytes'")
        _number(params, "bytes", where, lo=1, hi=10**10)
    elif kind == "format":
        allowed = name_list(params.get("allowed"), f"{where}: allowed")
        bad = [f for f in allowed if f.lower() not in FORMATS]
        if not allowed or bad:
            raise ConfigError(f"{where}: 'allowed' takes formats among {', '.join(FORMATS)}")
        params["allowed"] = [f.lower() for f in allowed]
    elif kind == "text":
        params.setdefault("min_chars", 2)
        _number(params, "min_chars", where, lo=1, hi=1000)
    elif kind == "required_shot" and "shots" in params:
        params["shots"] = _alternatives(params["shots"], taxonomy, f"{where}: shots")
    elif kind == "main_shot":
        names = name_list(params.get("allowed"), f"{where}: allowed")
        if not names:
            raise ConfigError(f"{where}: 'allowed' lists the shot classes or groups that may lead")
        params["allowed"] = taxonomy.expand(names, f"{where}: allowed", allow_groups=True)
    elif kind == "max_images":
        _number(params, "max", where, lo=1, hi=10_000)
    return params


def _alternatives(value: Any, taxonomy: Taxonomy, where: str) -> list[list[str]]:
    """``[front, [near_back, back], detail]``: each entry is met by any class it names."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: a list of shot classes or groups (or lists of them)")
    out = []
    for entry in value:
        names = name_list(entry, where)
        out.append(taxonomy.expand(names, where, allow_groups=True))
    return out


def parse_color(value: Any, where: str) -> tuple[int, int, int] | None:
    """``[255, 255, 255]``, ``"#FFFFFF"`` or ``255`` (grey) as an RGB triple; ``"plain"`` (any
    one uniform colour: the border's own median is the reference) as None."""
    if value == "plain":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return (value, value, value)
    if isinstance(value, str) and (m := _HEX.match(value.strip())):
        h = m.group(1)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
    ):
        return (value[0], value[1], value[2])
    raise ConfigError(
        f"{where}: 'color' must be [R, G, B] (0-255), '#RRGGBB', a grey level or 'plain'"
    )


def parse_ratio(value: Any, where: str) -> float:
    """Width over height: ``"1:1.44"`` (w:h, as guidelines write it), or a number."""
    ratio: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        ratio = float(value)
    elif isinstance(value, str) and value.count(":") == 1:
        try:
            w, h = (float(x) for x in value.split(":"))
            ratio = w / h if h > 0 else None
        except ValueError:
            ratio = None
    if ratio is None or not 0.05 <= ratio <= 20:
        raise ConfigError(f"{where}: 'ratio' must be w:h like \"1:1.44\", or a number w/h")
    return ratio


def describe_alternatives(alts: Iterable[str]) -> str:
    return " or ".join(alts)
