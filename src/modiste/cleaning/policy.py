"""The unwanted-image policy: per shot class, shown in galleries and/or indexed for search.

Tags, size charts, swatches and close-ups help a shopper on the product page but poison visual
search (a wash tag looks like every other wash tag), so by default they stay in galleries and out
of the index. A low-confidence ("unknown") photo is indexed: losing a real garment shot costs
more than one odd result.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from modiste.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Placement:
    gallery: bool
    search: bool
    reason: str | None = None


@dataclass(frozen=True)
class CleaningPolicy:
    default: Placement
    classes: dict[str, Placement]

    def place(self, label: str) -> Placement:
        return self.classes.get(label, self.default)


def _placement(name: str, raw: object, where: str) -> Placement:
    if not isinstance(raw, dict) or not {"gallery", "search"} <= set(raw):
        raise ConfigError(f"{where}: '{name}' needs gallery: true|false and search: true|false")
    return Placement(bool(raw["gallery"]), bool(raw["search"]), raw.get("reason") or name)


def load_policy(path: Path | None = None) -> CleaningPolicy:
    """The shipped policy, with a user file's entries merged over it."""
    texts = [
        (
            "built-in policy",
            resources.files("modiste.cleaning").joinpath("data/policy.yaml").read_text("utf-8"),
        )
    ]
    if path is not None:
        try:
            texts.append((str(path), Path(path).read_text("utf-8")))
        except OSError as e:
            raise ConfigError(f"{path}: cannot read cleaning policy ({e.strerror})") from e
    default: Placement | None = None
    classes: dict[str, Placement] = {}
    for where, text in texts:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{where}: invalid YAML ({e})") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping with 'default' and 'classes'")
        if "default" in data:
            default = _placement("default", data["default"], where)
        for name, raw in (data.get("classes") or {}).items():
            classes[str(name)] = _placement(str(name), raw, where)
    assert default is not None  # the shipped file has one
    return CleaningPolicy(default, classes)
