"""Safe fixes of ``modiste export`` on real studio photos: how many copies the checker then
passes, that the product's pixels come through, and the cost per photo.

Magento Luma photos from ``../shared/datasets`` (512 px, white studio backdrop, models often cut
at the waist or the knee) are fixed as each shipped profile's main image, then the copy is
checked with the same profile (``check_gallery``, as the export does). Reported per profile:
photos left as they were, fixed, and sent to a person (by rule), the frame rules still broken
after the fix (aspect, fill, background, format; minimum sizes are left out: these 512 px photos
are below every channel's and only a new photo mends that; whatever is left, the export's
report sends to a person), the copies a fix changed that still fail, and the largest mean
difference, over the product's box, between a fixed copy and its original (JPEG re-encoding
only; a resampled product would differ far more).

    python -m benchmarks.export_fixes --json benchmarks/results/export_fixes.json
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.output import write_result
from modiste.compliance.check import check_gallery
from modiste.compliance.fixes import BOX_TOLERANCE, backdrop, fix_image, product_box, target_for
from modiste.compliance.measure import ImageInput
from modiste.compliance.profiles import load_profile
from modiste.imaging.decode import decode_image

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
PROFILES = ("ajio", "zalando", "aboutyou", "amazon")
FRAME_KINDS = ("aspect", "fill", "background", "format")


def _product_diff(
    original: np.ndarray, copy: np.ndarray, frame: tuple[int, ...], box: Any
) -> float:
    """Mean absolute difference over the product's box between the original and the copy."""
    x0, y0, x1, y1 = box
    fx, fy = frame[0], frame[1]
    a = original[y0:y1, x0:x1].astype(np.int16)
    b = copy[y0 - fy : y1 - fy, x0 - fx : x1 - fx].astype(np.int16)
    return float(np.abs(a - b).mean())


def run_profile(name: str, rows: list[dict[str, str]], root: Path) -> dict[str, Any]:
    profile = load_profile(name)
    kinds = {r.id: r.kind for r in profile.rules}
    counts: Counter[str] = Counter()
    needs: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    worst_diff, fix_s = 0.0, 0.0
    for row in rows:
        data = (root / row["image_path"]).read_bytes()
        target = target_for(profile, row["shot"], True)
        t0 = time.perf_counter()
        fixed = fix_image(data, target, name=row["image_path"])
        fix_s += time.perf_counter() - t0
        counts["fixed" if fixed.changed else "untouched"] += 1
        for need in fixed.needs:
            needs[need.rule] += 1
        if fixed.needs:
            counts["needs_person"] += 1
        copy = ImageInput(key="main", data=fixed.data, label=row["shot"], position=0)
        report = check_gallery(profile, [copy], product=row["image_path"])
        left = {kinds.get(v.rule, v.rule) for i in report.images for v in i.violations}
        for kind in left & set(FRAME_KINDS):
            broken[kind] += 1
        counts["passing"] += not left & set(FRAME_KINDS)
        counts["fixed_still_failing"] += bool(fixed.changed and left & set(FRAME_KINDS))
        if fixed.frame is not None and not fixed.downscaled:
            original = np.asarray(decode_image(data).image)
            back = backdrop(original, target)
            box = product_box(original, back.colour, BOX_TOLERANCE) if back else None
            if box is not None:
                out = np.asarray(decode_image(fixed.data).image)
                worst_diff = max(worst_diff, _product_diff(original, out, fixed.frame, box))
    n = len(rows)
    return {
        "photos": n,
        "untouched": counts["untouched"],
        "fixed": counts["fixed"],
        "needs_person": counts["needs_person"],
        "needs_person_by_rule": dict(sorted(needs.items())),
        "frame_rules_broken_after_fix": {k: broken[k] for k in FRAME_KINDS},
        "photos_passing_frame_rules_after_fix": counts["passing"],
        "fixed_but_still_failing_frame_rules": counts["fixed_still_failing"],
        "product_mean_abs_diff_max": round(worst_diff, 3),
        "fix_ms_per_photo": round(fix_s / max(1, n) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--n", type=int, default=0, help="first N photos only (0: all)")
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.datasets / "magento_luma"
    with (root / "gallery.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = rows[: args.n] if args.n else rows
    t0 = time.perf_counter()
    result = {
        "set": {"source": "magento_luma", "photos": len(rows)},
        "profiles": {name: run_profile(name, rows, root) for name in args.profiles},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    write_result(args.json, text)
    return result


if __name__ == "__main__":
    main()
