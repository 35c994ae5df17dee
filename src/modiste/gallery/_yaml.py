"""Reading the gallery's YAML files, with errors that name the file and the problem."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from modiste.errors import ConfigError


def data_path(*parts: str) -> Path:
    """A file shipped in ``modiste/gallery/data`` (works from a checkout and from a wheel)."""
    return Path(str(resources.files("modiste.gallery").joinpath("data", *parts)))


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loading that refuses a key given twice (YAML would keep the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if not isinstance(key, Hashable):  # `? [a, b]`, `? !!set {a}`: no dict can hold it
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value, not a list, set or mapping",
                    key_node.start_mark,
                )  # fmt: skip
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """Safe YAML that refuses duplicate keys; raises ``yaml.YAMLError`` for any bad input.

    The text may come from anyone with an API key, so what PyYAML lets escape as another error
    becomes a ``YAMLError`` too: deep nesting (its composer recurses: RecursionError) and an
    integer over Python's digit limit (ValueError).
    """
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except RecursionError as e:
        raise yaml.YAMLError("nested too deeply") from e
    except ValueError as e:  # int("9" * 5000) is over Python's limit on digits
        raise yaml.YAMLError(
            "a number has too many digits" if "digits" in str(e) else str(e)
        ) from e
    except TypeError as e:  # pragma: no cover - unhashable keys are refused above
        raise yaml.YAMLError(f"a value cannot be read ({e})") from e


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """Parse ``path`` as a YAML mapping, or raise ConfigError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read ({e.strerror or e})") from e
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} {path}: not valid YAML ({e})") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{what} {path}: expected a mapping at the top, got {type(data).__name__}"
        )
    return data


def check_keys(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse unknown keys: a typo (``max_image``) must not silently do nothing."""
    allowed = list(allowed)
    unknown = sorted(map(str, set(data) - set(allowed)))  # keys may be numbers, null, dates
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
