"""Once an install's ONNX exports are cached, an ingest runs every model without torch.

Importing torch and torchvision cost ~2.6 s of a 121-photo ingest's ~13 s, scikit-learn another
~1 s (docs/decisions/ingest-and-storage.md, steps 8 and 9): the backbones, the detector head and
its decoding need torch only to export a graph or to train, the text models scikit-learn only
to fit.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest
from modiste.search.visual import load_detector

INGEST = """
import json, sys

wanted = []


class Watch:  # records what a warm ingest imports of these; lets the import go on
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "sklearn") and name not in sys.modules:
            wanted.append(name)
        return None


sys.meta_path.insert(0, Watch())
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest

from PIL import Image

from modiste.search.visual import load_detector

from sqlalchemy import select

from modiste.catalog.schema import ProductRow

settings = Settings()
db = Database(settings)
summary = run_ingest(settings, db)
stages = {s.name: [s.done, s.failed] for s in summary.stages}
with db.session() as session:  # the text models' guesses (the feed gives no gender)
    guessed = sorted(p.title for p in session.scalars(select(ProductRow))
                     if "predicted" in (p.attributes or {}))
# a drawn shirt is a sure flat front, which skips the detector: run it on a photo as well
found = load_detector(settings, threads=1).predict([Image.new("RGB", (300, 400), "grey")])
print(json.dumps({"imported": sorted(set(wanted)), "stages": stages, "detected": len(found),
                  "guessed": guessed}))
"""


def shirt(colour: tuple[int, int, int], wide: int) -> bytes:
    """A flat shirt shape on white, the kind of photo that reaches the detector; ``wide`` sets
    its cut, so that shirts of one colour are different products to the dedupe stage."""
    from PIL import ImageDraw

    im = Image.new("RGB", (192, 256), "white")
    x1, x2 = 60 - 6 * wide, 132 + 6 * wide
    ImageDraw.Draw(im).polygon(
        [(x1, 40), (x2, 40), (x2 + 28, 90), (x2, 100), (x2, 220), (x1, 220), (x1, 100),
         (x1 - 28, 90)], fill=colour)  # fmt: skip
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_feed(folder: Path, shirts: list[tuple[tuple[int, int, int], int]]) -> Path:
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = ["id,title,image_link"]
    for i, (colour, wide) in enumerate(shirts):
        (folder / "img" / f"{i}.jpg").write_bytes(shirt(colour, wide))
        lines.append(f"{folder.name}-{i},Cotton shirt {i},img/{i}.jpg")
    (folder / "feed.csv").write_text("\n".join(lines) + "\n")
    return folder / "feed.csv"


def test_a_warm_ingest_imports_neither_torch_nor_sklearn(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    import json

    import_feed(db, write_feed(tmp_path / "first", [((20, 60, 180), 0), ((200, 40, 40), 1)]))
    first = run_ingest(settings, db)  # exports the graphs (torch) into the data folder's cache
    assert all(s.failed == 0 for s in first.stages)
    detector = load_detector(settings, threads=1)  # and the detector's, which no photo needed
    assert detector is not None
    detector.predict([Image.new("RGB", (300, 400), "grey")])
    assert any((settings.cache_dir / "onnx").glob("*.onnx"))
    import_feed(db, write_feed(tmp_path / "second", [((200, 40, 40), 3), ((200, 40, 40), 4)]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODISTE_")}
    env["MODISTE_DATA_DIR"] = str(settings.data_dir)
    done = subprocess.run(
        [sys.executable, "-c", INGEST], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    # the second feed's photos went through the models (a drawn shirt may pass for a size
    # chart, which the policy keeps out of search, so not both need reach the detector)
    assert result["stages"]["shots"] == [2, 0]
    assert result["stages"]["categorize"] == [2, 0]
    assert len(result["guessed"]) == 4  # no gender in the feeds: the text models ran here too
    assert result["stages"]["embed"][0] >= 1
    assert result["detected"] == 1
    assert all(failed == 0 for _, failed in result["stages"].values())
