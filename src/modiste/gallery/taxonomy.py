"""The shot taxonomy: the classes a gallery image can be, each with a group and a description.

The taxonomy is data (``data/taxonomy.yaml``), not code, so a team can add its own shot types
with a small YAML file merged over the default, without touching the package. Regulations are
validated against it, so a typo in a regulation is caught when the file is loaded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modiste.errors import ConfigError
from modiste.gallery._yaml import check_keys, data_path, read_mapping

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
"""What a classifier answers below its confidence threshold; reserved, never a class."""

CLASS_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # how a shot class is named
_CLASS_KEYS = ("group", "description", "study")


@dataclass(frozen=True, slots=True)
class ShotClass:
    """One shot type. ``study`` marks the 17 classes of the in-house study."""

    name: str
    group: str
    description: str
    study: bool = False
    origin: str = "default"  # "default" or the user file that added it


@dataclass(frozen=True)
class Taxonomy:
    """The shot classes in a stable order, grouped (model, garment, detail, label...)."""

    classes: tuple[ShotClass, ...]
    group_descriptions: Mapping[str, str]
    sources: tuple[Path, ...] = ()

    @property
    def labels(self) -> list[str]:
        """Class names in the stable order: the study's 17, then the extras in file order."""
        return [c.name for c in self.classes]

    @property
    def extras(self) -> list[str]:
        """Classes beyond the in-house study (shipped additions and user classes)."""
        return [c.name for c in self.classes if not c.study]

    @property
    def groups(self) -> dict[str, list[str]]:
        """Group name → its classes, groups in declaration order (empty groups included)."""
        out: dict[str, list[str]] = {g: [] for g in self.group_descriptions}
        for c in self.classes:
            out[c.group].append(c.name)
        return out

    def __contains__(self, label: object) -> bool:
        return any(c.name == label for c in self.classes)

    def get(self, label: str) -> ShotClass:
        for c in self.classes:
            if c.name == label:
                return c
        raise ConfigError(f"unknown shot class {label!r}; valid: {', '.join(self.labels)}")

    def describe(self, label: str) -> str:
        """One line saying what a photo of ``label`` shows."""
        if label == UNKNOWN:
            return "The classifier was not confident enough to name a shot type."
        return self.get(label).description

    def group_of(self, label: str) -> str:
        return self.get(label).group

    def expand(self, names: Iterable[str], where: str, *, allow_groups: bool = False) -> list[str]:
        """Check class names (and group names if allowed); unknown ones raise ConfigError.

        ``unknown`` is accepted as a name so a regulation can exclude or place unsure images.
        """
        out: list[str] = []
        bad: list[str] = []
        groups = self.groups
        for name in names:
            if allow_groups and name in groups:
                out.extend(groups[name])
            elif name == UNKNOWN or name in self:
                out.append(name)
            else:
                bad.append(str(name))
        if bad:
            valid = ", ".join([*self.labels, UNKNOWN])
            extra = f"; groups: {', '.join(groups)}" if allow_groups else ""
            raise ConfigError(
                f"{where}: unknown shot class(es) {', '.join(bad)}; valid: {valid}{extra}"
            )
        return out


def default_taxonomy_path() -> Path:
    return data_path("taxonomy.yaml")


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The shipped taxonomy, with the user file at ``path`` (if any) merged over it.

    A user file has the same shape as ``data/taxonomy.yaml``: new ``groups`` and ``classes`` are
    appended (keeping the default order stable); a class already defined may change its
    ``description`` or ``group``. Raises ConfigError naming the file and the problem.
    """
    default = default_taxonomy_path()
    groups: dict[str, str] = {}
    classes: dict[str, ShotClass] = {}
    _merge(read_mapping(default, "taxonomy"), default, groups, classes, user=False)
    sources = [default]
    if path is not None:
        path = Path(path)
        _merge(read_mapping(path, "taxonomy"), path, groups, classes, user=True)
        sources.append(path)
        log.debug("taxonomy: merged %s over the default", path)
    return Taxonomy(tuple(classes.values()), dict(groups), tuple(sources))


def _merge(
    data: dict[str, Any],
    path: Path,
    groups: dict[str, str],
    classes: dict[str, ShotClass],
    *,
    user: bool,
) -> None:
    where = f"taxonomy {path}"
    check_keys(data, ("version", "groups", "classes"), where)
    new_groups = data.get("groups") or {}
    if not isinstance(new_groups, dict):
        raise ConfigError(f"{where}: 'groups' must map a group name to its description")
    for name, text in new_groups.items():
        _check_name(name, f"{where}: group")
        groups[name] = _one_line(text, f"{where}: group {name!r}")
    new_classes = data.get("classes") or {}
    if not isinstance(new_classes, dict):
        raise ConfigError(f"{where}: 'classes' must map a class name to its group and description")
    for name, spec in new_classes.items():
        _check_name(name, f"{where}: class")
        if name == UNKNOWN:
            raise ConfigError(f"{where}: {UNKNOWN!r} is reserved for unsure predictions")
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{where}: class {name!r} must be a mapping with group and description"
            )
        check_keys(spec, _CLASS_KEYS, f"{where}: class {name!r}")
        old = classes.get(name)
        group = spec.get("group", old.group if old else None)
        if group is None or ("description" not in spec and old is None):
            raise ConfigError(f"{where}: new class {name!r} needs both a group and a description")
        if group not in groups:
            raise ConfigError(
                f"{where}: class {name!r} has unknown group {group!r}; groups: {', '.join(groups)}"
            )
        description = (
            _one_line(spec["description"], f"{where}: class {name!r}")
            if "description" in spec
            else old.description  # type: ignore[union-attr]
        )
        if user and "study" in spec:
            raise ConfigError(f"{where}: class {name!r}: 'study' is only set by the shipped file")
        classes[name] = ShotClass(
            name=name,
            group=group,
            description=description,
            study=bool(spec.get("study", old.study if old else False)),
            origin=(old.origin if old else str(path)) if user else "default",
        )


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not CLASS_NAME.match(name):
        raise ConfigError(f"{where} name {name!r} must be lower_snake_case (a-z, 0-9, _)")


def _one_line(text: object, where: str) -> str:
    if not isinstance(text, str) or not text.strip() or "\n" in text.strip():
        raise ConfigError(f"{where}: description must be one non-empty line")
    return text.strip()
