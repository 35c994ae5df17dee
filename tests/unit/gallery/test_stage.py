"""Shots and order stages: predictions stored, human labels kept, policy applied, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.importer import import_rows
from modiste.catalog.schema import ImageRow, ProductRow
from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.pipeline import stages
from modiste.pipeline.ingest import run_ingest

# The fake classifier reads the label from the image's colour (it never sees file names).
COLOURS = {
    "near_back": (200, 0, 0),
    "wash_tag": (0, 200, 0),
    "near_front": (0, 0, 200),
    "near_zoom": (200, 200, 0),
    "packshot": (0, 200, 200),
}


class FakeClassifier:
    source = "model"

    def predict(self, images: list[Image.Image]) -> list[ShotPrediction]:
        out = []
        for im in images:
            rgb = im.convert("RGB").resize((1, 1)).getpixel((0, 0))
            label = min(
                COLOURS, key=lambda k: sum(abs(a - b) for a, b in zip(COLOURS[k], rgb, strict=True))
            )
            out.append(ShotPrediction(label=label, confidence=0.9, scores={label: 0.9}))
        return out


@pytest.fixture
def catalog(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Database:
    import modiste.gallery.classifier as classifier_module

    monkeypatch.setattr(
        classifier_module, "create_shot_classifier", lambda s, **kw: FakeClassifier()
    )
    if "modiste.gallery.stage" not in stages.BUILTIN_STAGE_MODULES:
        monkeypatch.setattr(
            stages,
            "BUILTIN_STAGE_MODULES",
            [*stages.BUILTIN_STAGE_MODULES, "modiste.gallery.stage"],
        )
        monkeypatch.setattr(stages, "_loaded", False)
    paths = {}
    for label, colour in COLOURS.items():
        paths[label] = tmp_path / f"{label}.png"
        Image.new("RGB", (64, 80), colour).save(paths[label])
    db = Database(settings)
    db.migrate()
    rows = [
        FeedRow(
            line=2,
            external_id="top",
            title="Top",
            product_type="Women/Tops",
            images=[str(paths[k]) for k in ("wash_tag", "near_zoom", "near_back", "near_front")],
        ),
        FeedRow(
            line=3,
            external_id="bag",
            title="Bag",
            product_type="Gear/Bags",
            images=[str(paths[k]) for k in ("near_zoom", "packshot")],
        ),
    ]
    import_rows(db, rows, source="test")
    return db


def gallery(db: Database, external_id: str) -> list[tuple[int | None, str, bool | None]]:
    with db.session() as session:
        product = session.scalar(select(ProductRow).where(ProductRow.external_id == external_id))
        images = sorted(product.images, key=lambda i: (i.gallery_rank is None, i.gallery_rank or 0))
        return [(i.gallery_rank, i.shot.label, i.in_search) for i in images]


def test_ingest_classifies_applies_policy_and_orders(catalog: Database, settings: Settings) -> None:
    summary = run_ingest(settings, catalog)
    done = {s.name: s.done for s in summary.stages}
    assert done["store"] == done["shots"] == done["order"] == 6
    top = gallery(catalog, "top")
    assert [label for _, label, _ in top] == ["near_front", "near_back", "near_zoom", "wash_tag"]
    assert [rank for rank, _, _ in top] == [1, 2, 3, 4]
    # Close-ups and tags stay in the gallery but out of visual search (default policy).
    assert {label: s for _, label, s in top} == {
        "near_front": True,
        "near_back": True,
        "near_zoom": False,
        "wash_tag": False,
    }
    # Bags: the packshot leads.
    assert gallery(catalog, "bag")[0][1] == "packshot"


def test_human_labels_survive_a_rerun(catalog: Database, settings: Settings) -> None:
    run_ingest(settings, catalog)
    with catalog.session() as session:
        row = session.scalars(select(ImageRow).join(ImageRow.shot)).first()
        row.shot.label, row.shot.source = "size_chart", "human"
        image_id = row.id
    from modiste.catalog.schema import StageState

    with catalog.session() as session:  # force the stage to run again on that image
        session.query(StageState).filter_by(image_id=image_id, stage="shots").delete()
    run_ingest(settings, catalog)
    with catalog.session() as session:
        row = session.get(ImageRow, image_id)
        assert (row.shot.label, row.shot.source) == ("size_chart", "human")
        assert row.in_search is False and row.policy_reason == "size chart"


def test_sort_command_reorders_the_catalog_by_another_regulation(
    catalog: Database, settings: Settings, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    import modiste.cli.sort  # noqa: F401  (registers the command)
    from modiste.cli._apps import app

    out = tmp_path / "sorted.json"
    args = [
        "--data-dir",
        str(settings.data_dir),
        "sort",
        "-r",
        "marketplace-strict",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    by_product = {p["external_id"]: p for p in json.loads(out.read_text())}
    assert by_product["top"]["order"][0]["shot"] == "near_front"
    assert by_product["top"]["missing"] == []  # it has its wash tag
    assert by_product["bag"]["order"][0]["shot"] == "packshot"
    # The stored order follows the new regulation too.
    assert gallery(catalog, "top")[0][1] == "near_front"


def test_a_human_relabel_reapplies_the_policy_at_the_next_ingest(
    catalog: Database, settings: Settings
) -> None:
    from modiste.catalog.gallery_edits import set_shot_label
    from modiste.gallery.taxonomy import load_taxonomy

    run_ingest(settings, catalog)
    with catalog.session() as session:
        row = session.scalars(
            select(ImageRow).join(ImageRow.shot).where(ImageRow.in_search.is_(True))
        ).first()
        image_id = row.id
        set_shot_label(session, image_id, "size_chart", load_taxonomy().labels)
    run_ingest(settings, catalog)
    with catalog.session() as session:
        row = session.get(ImageRow, image_id)
        assert (row.shot.label, row.shot.source) == ("size_chart", "human")
        assert row.in_search is False and row.policy_reason == "size chart"


class LabellingClassifier(FakeClassifier):
    """While "the model runs", a person labels one photo and deletes another (other sessions)."""

    def __init__(self, db: Database, label: int, delete: int) -> None:
        self.db, self.label, self.delete = db, label, delete

    def predict(self, images: list[Image.Image]) -> list[ShotPrediction]:
        from modiste.catalog.gallery_edits import set_shot_label
        from modiste.gallery.taxonomy import load_taxonomy

        with self.db.session() as session:
            set_shot_label(session, self.label, "size_chart", load_taxonomy().labels)
        with self.db.session() as session:
            session.delete(session.get(ImageRow, self.delete))
        return super().predict(images)


def test_a_label_or_delete_during_the_shots_stage_is_kept_and_the_run_goes_on(
    catalog: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `UNIQUE constraint failed: shot_predictions.image_id` killed the ingest (the
    stage read "no label" and inserted after the person's label), and a deleted photo failed
    the stage's writes."""
    import modiste.gallery.classifier as classifier_module

    run_ingest(settings, catalog, stages=["store"])
    with catalog.session() as session:
        labelled, deleted = list(session.scalars(select(ImageRow.id).order_by(ImageRow.id)))[:2]
    racer = LabellingClassifier(catalog, labelled, deleted)
    monkeypatch.setattr(classifier_module, "create_shot_classifier", lambda s, **kw: racer)
    summary = run_ingest(settings, catalog, stages=["shots"])
    (shots,) = summary.stages
    assert (shots.done, shots.failed, shots.skipped) == (5, 0, 1)
    with catalog.session() as session:
        row = session.get(ImageRow, labelled)
        assert (row.shot.label, row.shot.source, row.shot.confidence) == ("size_chart", "human", 1)
        assert row.in_search is False and row.policy_reason == "size chart"  # the person's label
        assert session.get(ImageRow, deleted) is None
    # The photo labelled mid-run is looked at again by the next ingest, and keeps its label.
    monkeypatch.setattr(
        classifier_module, "create_shot_classifier", lambda s, **kw: FakeClassifier()
    )
    run_ingest(settings, catalog, stages=["shots"])
    with catalog.session() as session:
        assert session.get(ImageRow, labelled).shot.source == "human"


def test_a_product_deleted_while_galleries_are_ordered_does_not_stop_the_ingest(
    catalog: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the order stage's write failed with StaleDataError and the ingest died."""
    import modiste.gallery.stage as stage_module

    run_ingest(settings, catalog, stages=["store", "shots"])
    real, calls = stage_module.order_gallery, []

    def order_while_deleting(*args, **kw):  # type: ignore[no-untyped-def]
        if not calls:  # a person deletes a product through the API, once
            with catalog.session() as session:
                session.delete(
                    session.scalar(select(ProductRow).where(ProductRow.external_id == "bag"))
                )
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(stage_module, "order_gallery", order_while_deleting)
    run_ingest(settings, catalog, stages=["order"])
    assert [rank for rank, _, _ in gallery(catalog, "top")] == [1, 2, 3, 4]
    with catalog.session() as session:
        assert session.scalar(select(ProductRow).where(ProductRow.external_id == "bag")) is None


def test_an_order_set_by_hand_survives_the_next_ordering(
    catalog: Database, settings: Settings
) -> None:
    from modiste.catalog.gallery_edits import set_manual_order
    from modiste.gallery.stage import order_products
    from modiste.imaging.store import open_image_store
    from modiste.pipeline.stages import StageContext

    run_ingest(settings, catalog)
    with catalog.session() as session:
        top = session.scalar(select(ProductRow).where(ProductRow.external_id == "top"))
        wanted = [i.id for i in sorted(top.images, key=lambda i: -(i.gallery_rank or 0))]
        set_manual_order(session, top.id, wanted)  # the regulation's order, reversed
    order_products(StageContext(settings, catalog, open_image_store(settings)))
    assert [label for _, label, _ in gallery(catalog, "top")] == [
        "wash_tag",
        "near_zoom",
        "near_back",
        "near_front",
    ]
    assert gallery(catalog, "bag")[0][1] == "packshot"  # other products are still ordered
