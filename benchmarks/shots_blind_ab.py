"""Blind A/B of two shot heads on catalog photos neither was trained on (issue #12).

Magento is the only labelled gallery set, and every head is chosen on it. This checks a change
where users meet it: both heads classify a seeded sample of Myntra catalog photos
(``fashion_products``; not the 200 that ``shots_bench --catalog fashion_products`` times), and
the photos where they disagree are drawn as contact sheets showing the two labels as "A" and
"B" in a seeded random order. The key (which side is which head) is written apart. A person
writes one verdict per numbered cell into a text file: ``12A``, ``12B`` or ``12N`` (neither
right, or both fine), then ``--score`` unblinds it and counts the wins of each head.

    git show COMMIT:src/modiste/models/weights/shots_mobilenet_v2.npz > /tmp/old.npz
    python -m benchmarks.shots_blind_ab --head-a /tmp/old.npz --out DIR            # sheets + key
    python -m benchmarks.shots_blind_ab --score VERDICTS.txt --out DIR --json OUT.json

``--head-b`` defaults to the head a fresh data folder loads (the shipped one).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.harness import DATASETS
from benchmarks.output import write_result

CELL = 220  # thumbnail side on the sheets
PER_SHEET = 16


def sample(images: Path, n: int, seed: int) -> list[Path]:
    """``n`` photos drawn with ``seed``, leaving out the 200 that shots_bench times (its seed 0)."""
    paths = sorted(images.glob("*.jpg"))
    timed = set(random.Random(0).sample(paths, min(200, len(paths))))
    rest = [p for p in paths if p not in timed]
    return random.Random(seed).sample(rest, min(n, len(rest)))


def classifier(data_dir: Path, head: Path | None) -> Any:
    """The full shot classifier of a data folder, with ``head`` installed there (None: shipped)."""
    from modiste.config import Settings
    from modiste.gallery.classifier import create_shot_classifier, user_head_path

    settings = Settings(data_dir=data_dir)
    if head is not None:
        user_head_path(settings).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(head, user_head_path(settings))
    return create_shot_classifier(settings)


def draw(args: argparse.Namespace) -> dict[str, Any]:
    """Classify with both heads; write the sheets of the disagreements and the key."""
    from PIL import Image, ImageDraw

    from modiste.imaging import decode_image

    photos = sample(args.images, args.n, args.seed)
    heads = {
        "a": classifier(args.out / "head-a", args.head_a),
        "b": classifier(args.out / "head-b", args.head_b),
    }
    labels: dict[str, list[str]] = {"a": [], "b": []}
    for i in range(0, len(photos), 50):
        ims = [decode_image(p, draft_size=448).image for p in photos[i : i + 50]]
        for side, clf in heads.items():
            labels[side] += [p.label for p in clf.predict(ims)]
    rng = random.Random(7)
    key = []
    for path, a, b in zip(photos, labels["a"], labels["b"], strict=True):
        if a != b:
            swap = rng.random() < 0.5  # A shows head b's label
            key.append({"name": path.name, "A": b if swap else a, "B": a if swap else b,
                        "A_is_head_b": swap})  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "key.json").write_text(json.dumps(key, indent=1) + "\n")
    for s in range(0, len(key), PER_SHEET):
        sheet = Image.new("RGB", (CELL * 8, (CELL + 30) * 2), "white")
        pen = ImageDraw.Draw(sheet)
        for i, row in enumerate(key[s : s + PER_SHEET]):
            im = Image.open(args.images / row["name"]).convert("RGB")
            im.thumbnail((CELL, CELL))
            x, y = (i % 8) * CELL, (i // 8) * (CELL + 30)
            sheet.paste(im, (x, y))
            pen.text((x + 2, y + CELL + 2), f"#{s + i} A: {row['A']}", fill="black")
            pen.text((x + 2, y + CELL + 14), f"B: {row['B']}", fill="blue")
        sheet.save(args.out / f"sheet_{s // PER_SHEET}.png")
    return {"photos": len(photos), "disagreements": len(key), "sheets": -(-len(key) // PER_SHEET)}


def score(key: list[dict[str, Any]], verdicts: str) -> dict[str, Any]:
    """Wins of each head from the verdicts (``<cell><A|B|N>``, whitespace separated)."""
    from scipy.stats import binomtest

    found = {int(m[1]): m[2] for m in re.finditer(r"(\d+)([ABN])\b", verdicts)}
    if sorted(found) != list(range(len(key))):
        raise SystemExit(f"need one verdict per cell 0..{len(key) - 1}, got {len(found)}")
    wins: Counter[str] = Counter()
    flows: Counter[str] = Counter()
    for i, row in enumerate(key):
        a_side = "head_b" if row["A_is_head_b"] else "head_a"
        b_side = "head_a" if row["A_is_head_b"] else "head_b"
        winner = {"A": a_side, "B": b_side, "N": "neither"}[found[i]]
        wins[winner] += 1
        by_head = {a_side: row["A"], b_side: row["B"]}
        flows[f"{by_head['head_a']} -> {by_head['head_b']}: {winner}"] += 1
    decided = wins["head_a"] + wins["head_b"]
    return {
        "disagreements": len(key),
        "head_a_right": wins["head_a"],
        "head_b_right": wins["head_b"],
        "neither_or_both": wins["neither"],
        "sign_test_p": binomtest(wins["head_b"], decided).pvalue if decided else None,
        "label_changes": dict(flows.most_common()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--head-a", type=Path, help="the baseline head file (default: shipped)")
    ap.add_argument("--head-b", type=Path, help="the candidate head file (default: shipped)")
    ap.add_argument("--n", type=int, default=1000, help="photos to classify")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", type=Path, default=DATASETS / "fashion_products" / "images")
    ap.add_argument("--out", type=Path, required=True, help="folder: sheets, key.json")
    ap.add_argument("--score", type=Path, help="verdicts file: unblind and count")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.score is not None:
        key = json.loads((args.out / "key.json").read_text())
        result = score(key, args.score.read_text())
    else:
        result = draw(args)
    text = json.dumps(result, indent=2)
    print(text)
    write_result(args.json, text)


if __name__ == "__main__":
    main()
