"""The OCR cue of the shot classifier on real sets: what the gate sends to OCR, what it changes.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.shots_ocr --json OUT``.
For each set the shipped head classifies every photo once (decoded as ``modiste eval shots``
does); the gate (:func:`modiste.gallery.text_shots.needs_ocr`) picks the photos to read and the
rule (:func:`~modiste.gallery.text_shots.text_shot`) decides, then the care-symbol row
(``TextShotStage.symbol_verdict``) where the text named no label, as the stage does. Reported
per set: photos gated, photos whose label the stage changes (and from/to), accuracy
before/after where the set has labels, and the OCR (and symbol) seconds per photo of the set
(the stage's cost on that kind of catalog).
``--ungated SET`` also reads every photo of that set, to count what the rule would turn into a
label without the gate (``rule_alone``), and what the words alone would (``text_alone``: the
rule as if the head took every photo for an unsure brand label); on printed tees and street
photos every such label is wrong.
Sets: Magento (all 342), seeded samples of CCP street photos, clothing-dataset photos and
Myntra catalog photos of printed tops (text on the garment), tags_fabrics (evaluation only),
and any ``--extra NAME=CSV`` (e.g. generated labels from ``modiste train shots-synth``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def build_sets(root: Path, n: int, seed: int) -> dict[str, list[tuple[Path, str | None]]]:
    """(photo, true shot or None) per set; samples are seeded, so reruns read the same photos."""
    sets: dict[str, list[tuple[Path, str | None]]] = {}
    with (root / "magento_luma" / "gallery.csv").open(newline="") as f:
        sets["magento"] = [
            (root / "magento_luma" / r["image_path"], r["shot"]) for r in csv.DictReader(f)
        ]
    with (root / "ccp_street" / "images.csv").open(newline="") as f:
        ccp = [root / "ccp_street" / r["image_path"] for r in csv.DictReader(f)]
    sets["ccp"] = [(p, "far_front") for p in random.Random(seed).sample(ccp, min(n, len(ccp)))]
    with (root / "clothing_dataset" / "labels.csv").open(newline="") as f:
        cd = [
            root / "clothing_dataset" / r["image_path"]
            for r in csv.DictReader(f)
            if r["label"] not in ("Not sure", "Other", "Skip", "Shoes", "Hat")
            and r["kids"] != "True"
        ]
    sets["clothing"] = [(p, "flat_front") for p in random.Random(seed).sample(cd, min(n, len(cd)))]
    with (root / "fashion_products" / "products.csv").open(newline="") as f:
        printed = [
            root / "fashion_products" / r["image_path"]
            for r in csv.DictReader(f)
            if r["image_path"]
            and r["articleType"] in ("Tshirts", "Tops", "Sweatshirts")
            and "print" in r["productDisplayName"].lower()
        ]
    # Catalog photos of printed tops: packshots and model shots; none is a label or a chart.
    sets["fashion_printed"] = [
        (p, None) for p in random.Random(seed).sample(printed, min(n, len(printed)))
    ]
    with (root / "tags_fabrics" / "gallery.csv").open(newline="") as f:
        sets["tags_fabrics"] = [
            (root / "tags_fabrics" / r["image_path"], r["shot"]) for r in csv.DictReader(f)
        ]
    return sets


def _box(b: Any) -> list[float]:
    """A box as four floats (the JSON cache)."""
    return [float(b.x1), float(b.y1), float(b.x2), float(b.y2)]


def _csv_set(path: Path) -> list[tuple[Path, str | None]]:
    with path.open(newline="") as f:
        return [(path.parent / r["image_path"], r["shot"]) for r in csv.DictReader(f)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--n", type=int, default=150, help="photos per sampled set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra", action="append", default=[], help="NAME=gallery.csv")
    ap.add_argument("--ungated", default="fashion_printed,ccp", help="sets read in full")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--details", type=Path, default=None, help="per-photo rows (JSON lines)")
    ap.add_argument(
        "--cache", type=Path, default=None, help="OCR lines cached here (rule development)"
    )
    ap.add_argument(
        "--work", type=Path, default=Path("/tmp/modiste-cache/ocr-bench"), help="ONNX cache"
    )
    args = ap.parse_args()
    import numpy as np

    from modiste.config import Settings
    from modiste.domain import Box, ShotPrediction
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.gallery.text_shots import (
        TEXT_CLASSES,
        HeadView,
        TextShotStage,
        apply_verdict,
        detail_labels,
        needs_ocr,
        text_shot,
    )
    from modiste.imaging import decode_image
    from modiste.models.ocr import OcrLine

    clf = create_shot_classifier(Settings(data_dir=args.work, shot_ocr=False))
    # The rule with the head's look taken out: every photo seen as an unsure brand label.
    alone_view = HeadView(top="unknown", detail_side=True, text_mass=1.0, top_text="brand_tag")
    labels = clf.labels
    detail = detail_labels(tuple(labels))
    stage = TextShotStage()
    cache: dict[str, Any] = {}
    if args.cache and args.cache.is_file():
        cache = json.loads(args.cache.read_text())
    sets = build_sets(args.datasets, args.n, args.seed)
    for spec in args.extra:
        name, _, path = spec.partition("=")
        sets[name] = _csv_set(Path(path))
    ungated = set(args.ungated.split(",")) if args.ungated else set()
    report: dict[str, Any] = {"n": args.n, "seed": args.seed, "sets": {}}
    rows_out = []
    stage.read(decode_image(sets["tags_fabrics"][0][0]).image)  # load the OCR models
    for name, items in sets.items():
        if not items:
            continue
        ims = [decode_image(p, draft_size=clf.spec.size * 2).image for p, _ in items]
        t = time.perf_counter()
        proba = np.concatenate([clf.proba(ims[i : i + 32]) for i in range(0, len(ims), 32)])
        head_s = time.perf_counter() - t
        ocr_s, gated, changed, rule_alone = 0.0, 0, Counter[str](), Counter[str]()
        text_alone = Counter[str]()
        before, after = [], []
        for (path, truth), im, row in zip(items, ims, proba, strict=True):
            k = int(np.argmax(row))
            head_label = labels[k] if row[k] >= clf.threshold else "unknown"
            scores = {lab: round(float(p), 4) for lab, p in zip(labels, row, strict=True)}
            pred = ShotPrediction(head_label, float(row[k]), scores, "model")
            gate = needs_ocr(row, labels, clf.threshold)
            key = str(path)
            lines = None
            if gate or name in ungated:
                if key not in cache:
                    t = time.perf_counter()
                    read = stage.read(im)
                    cache[key] = {
                        "s": time.perf_counter() - t,
                        "lines": [[ln.text, _box(ln.box), float(ln.score)] for ln in read],
                    }
                lines = [OcrLine(x[0], Box(*x[1]), x[2]) for x in cache[key]["lines"]]
            view = HeadView.of(row, labels, detail)
            verdict, new = None, pred
            if gate:
                gated += 1
                t = time.perf_counter()  # the stage's decision: text, then the symbol row
                verdict = stage.decide(im, lines or [], view)
                ocr_s += cache[key]["s"] + time.perf_counter() - t
                new = apply_verdict(pred, verdict)
            elif lines is not None:
                verdict = text_shot(lines, im.height, view)
            if new.label != pred.label:
                changed[f"{pred.label} -> {new.label}"] += 1
            if verdict is not None and verdict.label and not gate:
                rule_alone[f"{pred.label} -> {verdict.label}"] += 1
            if lines is not None and name in ungated:
                # What the words alone would make of it, were the head to take it for a label.
                alone = text_shot(lines, im.height, alone_view).label
                text_alone[str(alone)] += 1
            before.append(pred.label)
            after.append(new.label)
            rows_out.append(
                {
                    "set": name,
                    "path": key,
                    "truth": truth,
                    "head": pred.label,
                    "head_top": labels[k],
                    "conf": round(float(row[k]), 3),
                    "text_mass": round(view.text_mass, 3),
                    "top_text": view.top_text,
                    "gated": gate,
                    "final": new.label,
                    "reason": verdict.reason if verdict else None,
                    "text": " | ".join(ln.text for ln in lines) if lines else "",
                }
            )
        truths = [t for _, t in items]
        entry: dict[str, Any] = {
            "photos": len(items),
            "gated": gated,
            "gated_share": round(gated / len(items), 4),
            "changed": sum(changed.values()),
            "changes": dict(changed),
            "ocr_s_per_gated_photo": round(ocr_s / gated, 3) if gated else None,
            "ocr_ms_per_photo_of_set": round(1000 * ocr_s / len(items), 2),
            "head_ms_per_photo": round(1000 * head_s / len(items), 2),
        }
        if name in ungated:
            entry["rule_alone_on_ungated_photos"] = dict(rule_alone)
            entry["text_alone_on_ungated_photos"] = dict(text_alone)
        if all(t is not None for t in truths):
            entry["accuracy_before"] = round(
                float(np.mean([a == b for a, b in zip(truths, before, strict=True)])), 4
            )
            entry["accuracy_after"] = round(
                float(np.mean([a == b for a, b in zip(truths, after, strict=True)])), 4
            )
            for cls in sorted({t for t in truths if t in TEXT_CLASSES}):
                idx = [i for i, t in enumerate(truths) if t == cls]
                entry[f"{cls}_recall"] = [
                    sum(before[i] == cls for i in idx) / len(idx),
                    sum(after[i] == cls for i in idx) / len(idx),
                ]
        report["sets"][name] = entry
        print(name, json.dumps(entry))
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            args.cache.write_text(json.dumps(cache))
    if args.details:
        args.details.write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows_out) + "\n"
        )
    text = json.dumps(report, indent=2)
    print(text)
    write_result(args.json, text)


if __name__ == "__main__":
    main()
