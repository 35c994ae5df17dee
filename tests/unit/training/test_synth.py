"""The shot-data generators: reproducible from a seed, right sizes, a CSV train shots reads."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modiste.errors import ConfigError
from modiste.training.shot_data import gallery_samples, load_shot_dataset
from modiste.training.synth import CLASSES, SourcePool, contact_sheets, generate_one, write_dataset
from modiste.training.synth.care import care_label, symbol_row
from modiste.training.synth.details import material_box, shows_outline
from modiste.training.synth.generate import ASPECTS
from modiste.training.synth.sources import Layout

SIDE = 96


@pytest.fixture(scope="module")
def pool() -> SourcePool:
    return SourcePool.generated(n=6, seed=0, side=160)


def test_every_taxonomy_class_it_claims_exists() -> None:
    from modiste.gallery.taxonomy import load_taxonomy

    assert set(CLASSES) <= set(load_taxonomy().labels)
    assert {"near_side", "far_side", "back"}.isdisjoint(CLASSES)  # no honest source: not made


@pytest.mark.parametrize("cls", CLASSES)
def test_each_class_is_reproducible_and_sized(pool: SourcePool, cls: str) -> None:
    a = generate_one(cls, pool, seed=3, index=1, long_side=SIDE)
    b = generate_one(cls, pool, seed=3, index=1, long_side=SIDE)
    assert a.shot == cls and a.image.mode == "RGB"
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    w, h = a.image.size
    assert max(w, h) == SIDE
    ratios = {round(aw / ah, 2) for opts in ASPECTS.values() for (aw, ah), _ in opts}
    assert round(w / h, 2) in ratios
    other = generate_one(cls, pool, seed=4, index=1, long_side=SIDE)
    assert not np.array_equal(np.asarray(a.image), np.asarray(other.image))


def test_an_image_does_not_depend_on_what_else_is_generated(pool: SourcePool) -> None:
    generate_one("material", pool, seed=0, index=0, long_side=SIDE)
    first = np.asarray(generate_one("wash_tag", pool, seed=0, index=2, long_side=SIDE).image)
    again = np.asarray(generate_one("wash_tag", pool, seed=0, index=2, long_side=SIDE).image)
    assert np.array_equal(first, again)


def _garment_on_floor(logo: bool) -> Layout:
    """A 400 px photo: a 300 x 300 px red garment (optionally a big dark logo) on a floor."""
    rng = np.random.default_rng(0)
    arr = np.full((400, 400, 3), (215, 200, 170), np.float32)
    arr[50:350, 50:350] = (160, 40, 40)
    if logo:  # a black and white check, 40 px squares, over most of the garment
        yy, xx = np.mgrid[0:200, 0:200]
        arr[100:300, 100:300] = np.where(((yy // 40 + xx // 40) % 2 == 0)[..., None], 20, 235)
    arr += rng.normal(0, 6, arr.shape)
    return Layout(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))


def test_material_windows_are_plain_fabric_at_near_native_resolution() -> None:
    """A material crop lies wholly inside the garment, is one colour, and is at least
    ``min_side`` px tall (so it is not upscaled past what the source resolves)."""
    lay = _garment_on_floor(logo=False)
    for seed in range(5):
        box = material_box(lay, np.random.default_rng(seed), 1.0, min_side=100)
        assert box is not None
        x0, y0, x1, y1 = box
        assert y1 - y0 >= 100 and x0 >= 50 and x1 <= 350 and y0 >= 50 and y1 <= 350
    assert material_box(lay, np.random.default_rng(0), 1.0, min_side=200) is None  # too small
    logo = _garment_on_floor(logo=True)  # no plain window of 100 px beside it
    assert material_box(logo, np.random.default_rng(0), 1.0, min_side=100) is None


def test_hem_and_collar_crops_must_show_the_garment_edge() -> None:
    lay = _garment_on_floor(logo=False)
    assert not shows_outline(lay, (100, 100, 300, 300))  # fabric only: that is material
    assert shows_outline(lay, (100, 250, 300, 400))  # the hem and the floor below it
    assert not shows_outline(lay, (0, 355, 400, 400))  # floor only


def test_wash_tags_are_also_shot_whole_frame_in_a_scene(pool: SourcePool) -> None:
    """Half the wash tags are phone photos of a garment with its label held up (upright
    frames, the scene a real flat-lay photo), not only label-filling close-ups."""
    from modiste.training.synth.fabric import scene_patch

    im, key, _ = scene_patch(pool, np.random.default_rng(0), (90, 160))
    assert im.size == (90, 160) and key in {p.key for p in pool.of({"flat"})}
    sizes = [generate_one("wash_tag", pool, 0, i, long_side=SIDE).image.size for i in range(12)]
    assert any(h > w for w, h in sizes) and any(round(w / h, 2) == 0.56 for w, h in sizes)


def test_care_label_carries_symbols_and_text() -> None:
    rng = np.random.default_rng(0)
    row = symbol_row(rng, 24, (0, 0, 0), (255, 255, 255))
    assert row.width >= 3 * 24 and (np.asarray(row) < 128).any()  # ink was drawn
    label = care_label(np.random.default_rng(1), 200)
    assert label.mode == "RGBA" and label.width == 200 and label.height > 100


def test_write_dataset_gives_a_gallery_csv_train_shots_reads(
    pool: SourcePool, tmp_path: Path
) -> None:
    classes = ["wash_tag", "size_chart", "hem"]
    csv_path = write_dataset(tmp_path / "syn", pool, classes, per_class=2, seed=1, long_side=SIDE)
    samples = gallery_samples(csv_path, "extra")
    assert [s.label for s in samples] == ["wash_tag"] * 2 + ["size_chart"] * 2 + ["hem"] * 2
    assert all(s.path.is_file() for s in samples)
    assert len({s.product_id for s in samples}) == 6
    hem = [s for s in samples if s.label == "hem"]
    assert all(s.group.startswith("generated") for s in hem)  # grouped with its source photo
    sheets = contact_sheets(csv_path, tmp_path / "sheets", thumb=32)
    assert sorted(p.name for p in sheets) == ["hem.png", "size_chart.png", "wash_tag.png"]
    again = write_dataset(tmp_path / "syn2", pool, classes, per_class=2, seed=1, long_side=SIDE)
    for s in samples:
        twin = again.parent / s.path.relative_to(csv_path.parent)
        assert s.path.read_bytes() == twin.read_bytes()


def test_unknown_class_and_eval_only_sources_are_refused(pool: SourcePool, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="near_side"):
        write_dataset(tmp_path, pool, ["near_side"], per_class=1)
    with pytest.raises(ConfigError, match="evaluation only"):
        SourcePool.from_datasets(tmp_path / "tags_fabrics")


def test_train_shots_takes_extra_gallery_csvs(pool: SourcePool, tmp_path: Path) -> None:
    data = tmp_path / "datasets"
    for folder, header, row in (
        ("magento_luma", "product_id,style_id,image_path,shot", "p1,s1,a.jpg,near_front"),
        ("ccp_street", "image_id,image_path", "1,b.jpg"),
        ("clothing_dataset", "image_path,label,kids,sender_id", "c.jpg,T-Shirt,False,7"),
    ):
        (data / folder).mkdir(parents=True)
        name = {"magento_luma": "gallery", "ccp_street": "images"}.get(folder, "labels")
        (data / folder / f"{name}.csv").write_text(f"{header}\n{row}\n")
    csv_path = write_dataset(tmp_path / "syn", pool, ["material"], per_class=2, long_side=SIDE)
    samples = load_shot_dataset(data, extra=[csv_path])
    assert [s.source for s in samples] == ["magento", "ccp", "clothing", "extra", "extra"]
    assert {s.label for s in samples if s.source == "extra"} == {"material"}


def test_shots_synth_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modiste.cli import shots as _  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    out = tmp_path / "syn"
    args = ["--data-dir", str(tmp_path / "d"), "train", "shots-synth", "--out", str(out)]
    opts = ["--per-class", "1", "--classes", "brand_tag,collar", "--size", "80"]
    res = CliRunner().invoke(
        app, [*args, *opts, "--generated-sources", "--sheets", str(tmp_path / "sh")]
    )
    assert res.exit_code == 0, res.output
    with (out / "gallery.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["shot"] for r in rows] == ["brand_tag", "collar"]
    assert (tmp_path / "sh" / "collar.png").is_file() and (
        tmp_path / "sh" / "overview.png"
    ).is_file()
    assert "--extra" in res.output


@pytest.mark.realdata
def test_real_sources_never_include_the_evaluation_set(datasets_dir: Path) -> None:
    pool = SourcePool.from_datasets(datasets_dir)
    assert {p.kind for p in pool.photos} == {"model", "packshot", "flat", "closeup"}
    assert not any("tags_fabrics" in p.key for p in pool.photos)
    for cls in ("wash_tag", "material", "collar"):
        im = generate_one(cls, pool, seed=0, index=0, long_side=128).image
        assert max(im.size) == 128
