"""Report writers shared by every ``modiste eval`` command: JSON plus a confusion-matrix PNG."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import ConfigError

log = logging.getLogger(__name__)


def _jsonable(o: Any) -> Any:
    """Plain JSON values for a report: numpy scalars and arrays as numbers and lists, paths
    as text, NaN and infinities (an AP over a class with no boxes...) as null."""
    if isinstance(o, float | np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple | np.ndarray):
        return [_jsonable(v) for v in o]
    if isinstance(o, Path):
        return str(o)
    return o


def write_json(report: dict[str, Any], path: Path) -> Path:
    """Write ``report`` as indented, strict JSON (creating folders)."""
    text = json.dumps(_jsonable(report), indent=2, allow_nan=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    except OSError as e:
        raise ConfigError(f"{path}: cannot write the report ({e.strerror or e})") from e
    return path


def plot_confusion(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], path: Path, title: str = ""
) -> Path:
    """Draw a row-normalised confusion matrix with counts, Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    side = 1.2 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    str(int(m[i, j])),
                    ha="center",
                    va="center",
                    color="white" if norm[i, j] > 0.5 else "black",
                    fontsize=8,
                )
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(
    report: dict[str, Any], json_path: Path, title: str = ""
) -> tuple[Path, Path | None]:
    """JSON at ``json_path``; with a confusion block, also ``<stem>_confusion.png`` beside it."""
    write_json(report, json_path)
    conf = report.get("confusion")
    png = None
    if conf:
        png = plot_confusion(
            conf["labels"],
            conf["matrix"],
            json_path.with_name(json_path.stem + "_confusion.png"),
            title,
        )
    return json_path, png
