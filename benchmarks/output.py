"""Where a benchmark's figures go: printed, and written to ``--json`` when given."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def work_dir(path: Path | None, prefix: str) -> Iterator[Path]:
    """A benchmark's scratch folder: ``path`` (``--work``, created and kept for a look after
    the run) when given, else a temp folder named ``prefix...`` and removed afterwards."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def write_result(path: Path | None, text: str) -> None:
    """Write ``text`` (a JSON document) to ``path``, creating its folder; nothing when None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
