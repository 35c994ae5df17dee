"""Where a benchmark's figures go: printed, and written to ``--json`` when given."""

from __future__ import annotations

from pathlib import Path


def write_result(path: Path | None, text: str) -> None:
    """Write ``text`` (a JSON document) to ``path``, creating its folder; nothing when None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
