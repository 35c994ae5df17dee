"""Regulations: a team's gallery rules as a small YAML file, validated against the taxonomy.

A regulation says in which order shot types appear, which are pinned first or last, which are
dropped, how many images a gallery may keep, which shots must be there, and how these rules
change per product category. It is data, so a new marketplace's rules need no retraining: the
classifier names the shots once and any regulation orders them (see docs/decisions/regulations.md).
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from modiste.config import Settings
from modiste.errors import ConfigError, NotFoundError
from modiste.gallery._yaml import check_keys, data_path, read_mapping
from modiste.gallery._yaml import parse_yaml as parse_yaml  # for the API: same YAML rules
from modiste.gallery.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

TIE_BREAKS = ("confidence", "position")
RULE_KEYS = (
    "order", "pin_first", "pin_last", "exclude", "max_images", "required", "promote", "tie_break"
)  # fmt: skip
_TOP_KEYS = ("name", "description", *RULE_KEYS, "categories")
_LIST_KEYS = ("order", "pin_first", "pin_last", "exclude", "required")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_IMAGES_CAP = 10_000  # no gallery is larger; a longer number is a typo or a probe


@dataclass(frozen=True, slots=True)
class Promotion:
    """Move ``labels`` to the front of a gallery that has none of ``unless_any``.

    The shipped default uses it for "packshot leads when there is no model shot".
    """

    labels: tuple[str, ...]
    unless_any: tuple[str, ...]
    unless_group: str | None = None  # kept to explain ("no model shot") and to write back

    def describe_condition(self) -> str:
        if self.unless_group:
            return f"no {self.unless_group} shot"
        return f"no {' / '.join(self.unless_any)} shot"


@dataclass(frozen=True, slots=True)
class Rules:
    """The ordering rules in force for one category (the base rules or an override merged in)."""

    order: tuple[str, ...]
    pin_first: tuple[str, ...] = ()
    pin_last: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_images: int | None = None
    required: tuple[str, ...] = ()
    promote: Promotion | None = None
    tie_break: tuple[str, ...] = TIE_BREAKS

    def to_dict(self) -> dict[str, Any]:
        promote = None
        if self.promote:
            p = self.promote
            promote = {"labels": list(p.labels), "unless_any": p.unless_group or list(p.unless_any)}
        out: dict[str, Any] = {k: list(getattr(self, k)) for k in _LIST_KEYS}
        out.update(max_images=self.max_images, promote=promote, tie_break=list(self.tie_break))
        return {k: out[k] for k in RULE_KEYS}


@dataclass(frozen=True, slots=True)
class CategoryOverride:
    """Rules for categories matching ``match`` (a path prefix like ``Gear/Bags`` or a glob)."""

    match: tuple[str, ...]
    changes: Mapping[str, Any]
    rules: Rules

    def matching_pattern(self, category: str) -> str | None:
        for pattern in self.match:
            if category_matches(pattern, category):
                return pattern
        return None


@dataclass(frozen=True)
class Regulation:
    name: str
    rules: Rules
    description: str = ""
    categories: tuple[CategoryOverride, ...] = ()
    source: Path | None = field(default=None, compare=False)

    def rules_for(self, category: str | None) -> tuple[Rules, str | None]:
        """The rules for ``category`` and the override pattern that matched (first match wins)."""
        if category:
            for override in self.categories:
                pattern = override.matching_pattern(category)
                if pattern is not None:
                    return override.rules, pattern
        return self.rules, None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        out.update(self.rules.to_dict())
        out["categories"] = [{"match": list(o.match), **o.changes} for o in self.categories]
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        taxonomy: Taxonomy | None = None,
        *,
        source: Path | None = None,
    ) -> Regulation:
        """Build and validate a regulation (names checked against ``taxonomy``, default shipped)."""
        where = f"regulation {source}" if source else "regulation"
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        taxonomy = taxonomy or load_taxonomy()
        check_keys(data, _TOP_KEYS, where)
        name = data.get("name") or (source.stem if source else None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{where}: 'name' must be a short name (letters, digits, _ . -)")
        where = f"regulation {name!r}" + (f" ({source})" if source else "")
        if "order" not in data:
            raise ConfigError(f"{where}: 'order' (the list of shot classes in order) is required")
        if not data["order"]:
            raise ConfigError(f"{where}: 'order' is empty: list at least one shot class")
        rules = _build_rules(data, Rules(order=()), taxonomy, where)
        raw_categories = data.get("categories") or []
        if not isinstance(raw_categories, list):
            raise ConfigError(f"{where}: 'categories' must be a list of overrides")
        overrides = [
            _build_override(c, rules, taxonomy, f"{where} category #{i + 1}")
            for i, c in enumerate(raw_categories)
        ]
        description = str(data.get("description") or "").strip()
        return cls(name, rules, description, tuple(overrides), source)


def _build_override(data: Any, base: Rules, taxonomy: Taxonomy, where: str) -> CategoryOverride:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping with 'match' and the rules it changes")
    check_keys(data, ("match", *RULE_KEYS), where)
    match = data.get("match")
    patterns = [match] if isinstance(match, str) else match
    if (
        not isinstance(patterns, list)
        or not patterns
        or not all(isinstance(p, str) and p.strip() for p in patterns)
    ):
        raise ConfigError(f"{where}: 'match' must be a category path or glob, or a list of them")
    rules = _build_rules(data, base, taxonomy, f"{where} ({patterns[0]})")
    full = rules.to_dict()
    changes = {k: full[k] for k in RULE_KEYS if k in data}
    return CategoryOverride(tuple(p.strip() for p in patterns), changes, rules)


def _build_rules(data: Mapping[str, Any], base: Rules, taxonomy: Taxonomy, where: str) -> Rules:
    values: dict[str, Any] = {}
    for key in _LIST_KEYS:
        if key in data:
            values[key] = tuple(
                taxonomy.expand(name_list(data[key], f"{where}: {key}"), f"{where}: {key}")
            )
    if "max_images" in data:
        n = data["max_images"]
        if n is not None and (
            isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES_CAP
        ):
            raise ConfigError(
                f"{where}: max_images must be a positive whole number up to "
                f"{MAX_IMAGES_CAP}, or null"
            )
        values["max_images"] = n
    if "tie_break" in data:
        tb = name_list(data["tie_break"], f"{where}: tie_break")
        if any(t not in TIE_BREAKS for t in tb):
            raise ConfigError(f"{where}: tie_break takes {', '.join(TIE_BREAKS)}; got {tb}")
        values["tie_break"] = tuple(tb)
    if "promote" in data:
        values["promote"] = _build_promotion(data["promote"], taxonomy, f"{where}: promote")
    rules = replace(base, **values)
    _check_conflicts(rules, where)
    return rules


def _build_promotion(data: Any, taxonomy: Taxonomy, where: str) -> Promotion | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or "labels" not in data or "unless_any" not in data:
        raise ConfigError(f"{where}: expected {{labels: [...], unless_any: GROUP or [...]}}")
    check_keys(data, ("labels", "unless_any"), where)
    labels = taxonomy.expand(name_list(data["labels"], where), f"{where}: labels")
    raw = data["unless_any"]
    unless = taxonomy.expand(name_list(raw, where), f"{where}: unless_any", allow_groups=True)
    if not labels or not unless:
        raise ConfigError(f"{where}: labels and unless_any each need at least one class")
    group = raw if isinstance(raw, str) and raw in taxonomy.groups else None
    return Promotion(tuple(labels), tuple(unless), group)


def _check_conflicts(rules: Rules, where: str) -> None:
    for key in _LIST_KEYS:
        seen = getattr(rules, key)
        dupes = sorted({n for n in seen if seen.count(n) > 1})
        if dupes:
            raise ConfigError(f"{where}: {key} lists {', '.join(dupes)} more than once")
    # Exclusion wins over order and pins (an override may drop a class the base pins), but a
    # class cannot be both dropped and required or promoted, nor pinned at both ends.
    for a, b in (("pin_first", "pin_last"), ("exclude", "required")):
        both = sorted(set(getattr(rules, a)) & set(getattr(rules, b)))
        if both:
            raise ConfigError(f"{where}: {', '.join(both)} cannot be in both {a} and {b}")
    if rules.promote and set(rules.promote.labels) & set(rules.exclude):
        raise ConfigError(f"{where}: a promoted class cannot also be excluded")
    if rules.max_images is not None and len(rules.required) > rules.max_images:
        raise ConfigError(
            f"{where}: {len(rules.required)} required classes cannot fit in "
            f"max_images={rules.max_images}"
        )


def name_list(value: Any, where: str) -> list[str]:
    """A YAML value that is one class name or a list of them, as a list (None: empty)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a name or a list of names")
    return list(value)


def normalize_category(category: str) -> str:
    """``"Women > Tops > Jackets"`` and ``"women/tops/jackets/"`` become ``women/tops/jackets``."""
    parts = re.split(r"\s*[/>]\s*", category.strip().casefold())
    return "/".join(p for p in parts if p)


def category_matches(pattern: str, category: str) -> bool:
    """True when the category, or one of its ancestors, matches ``pattern``.

    Case and separators are ignored. ``Gear/Bags`` matches ``Gear/Bags/Totes`` but not
    ``Gear/Bagsy``; globs are tried on each ancestor too, and ``*`` spans slashes, so
    ``*/Jackets`` matches ``Women/Tops/Jackets`` and ``Women*`` matches ``Women/Tops``.
    """
    pat = normalize_category(pattern)
    parts = normalize_category(category).split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pat) for i in range(len(parts), 0, -1))


# --- loading --------------------------------------------------------------------------------


def saved_regulation_dirs(settings: Settings) -> list[Path]:
    """Where a catalog's own regulations live, besides the shipped ones: DATA_DIR/regulations
    (where the API saves them), when it exists."""
    saved = settings.regulations_dir
    return [saved] if saved.is_dir() else []


def shipped_regulations_dir() -> Path:
    return data_path("regulations")


def load_regulation(path: Path | None = None, taxonomy: Taxonomy | None = None) -> Regulation:
    """Load and validate a regulation file; ``None`` gives the shipped ``default.yaml``."""
    path = Path(path) if path is not None else shipped_regulations_dir() / "default.yaml"
    return Regulation.from_dict(read_mapping(path, "regulation"), taxonomy, source=path)


def list_regulations(
    dirs: Iterable[Path] = (),
    *,
    taxonomy: Taxonomy | None = None,
    include_shipped: bool = True,
) -> list[Regulation]:
    """Every regulation in the shipped folder and in ``dirs``, by name.

    A file in a later folder replaces a shipped one of the same name, so a team can adapt
    ``default`` without forking the package.
    """
    taxonomy = taxonomy or load_taxonomy()
    folders = [shipped_regulations_dir()] if include_shipped else []
    folders += [Path(d) for d in dirs]
    found: dict[str, Regulation] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"regulations folder {folder} does not exist")
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            reg = load_regulation(path, taxonomy)
            if reg.name in found:
                log.info(
                    "regulation %r from %s replaces %s", reg.name, path, found[reg.name].source
                )
            found[reg.name] = reg
    return [found[k] for k in sorted(found)]


def resolve_regulation(
    ref: str | Path | None,
    dirs: Sequence[Path] = (),
    *,
    taxonomy: Taxonomy | None = None,
) -> Regulation:
    """A regulation from a file path, or by name among the shipped ones and ``dirs``."""
    if ref is None:
        return load_regulation(None, taxonomy)
    path = Path(ref)
    if path.is_file():
        return load_regulation(path, taxonomy)
    known = list_regulations(dirs, taxonomy=taxonomy)
    for reg in known:
        if reg.name == str(ref):
            return reg
    names = ", ".join(r.name for r in known)
    raise NotFoundError(f"no regulation file or name {str(ref)!r}; known names: {names}")
