"""Gallery edits racing an ingest or a delete, against the real app (threads, one catalog).

Before: a person's label during the shots stage killed the ingest (UNIQUE constraint failed:
shot_predictions.image_id), and a label or an order racing a delete was a 500 (FOREIGN KEY
constraint failed, StaleDataError).
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import delete, select

from modiste.catalog.db import Database
from modiste.catalog.schema import ImageRow, ShotRow, StageState
from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.pipeline.ingest import run_ingest


class SlowModel:
    """Says "packshot" for everything, slowly enough for the requests to slip in between."""

    source = "model"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, images: list[Image.Image]) -> list[ShotPrediction]:
        self.calls += 1
        threading.Event().wait(0.15)
        return [ShotPrediction("packshot", 0.9, {"packshot": 0.9}) for _ in images]


def test_labels_during_the_shots_stage(
    client: TestClient,
    auth: dict[str, str],
    api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import modiste.gallery.classifier as classifier_module

    model = SlowModel()
    monkeypatch.setattr(classifier_module, "create_shot_classifier", lambda s, **kw: model)
    settings = Settings(data_dir=api_settings.data_dir, ingest_chunk_size=2)
    db = Database(settings)  # the ingest's own engine, as a CLI process would have
    with db.session() as s:  # every photo needs a label again: the stage inserts each row
        s.execute(delete(ShotRow))
        s.execute(delete(StageState).where(StageState.stage == "shots"))
        ids = list(s.scalars(select(ImageRow.id).where(ImageRow.status == "stored")))
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            run_ingest(settings, db, stages=["shots"])
        except BaseException as e:  # reported by the test below
            errors.append(e)

    worker = threading.Thread(target=ingest)
    worker.start()
    statuses: Counter[int] = Counter()
    labelled: dict[int, str] = {}
    rng = random.Random(0)
    for i in range(200):
        image_id, label = rng.choice(ids), ("near_back", "flat_front")[i % 2]
        r = client.put(f"/v1/images/{image_id}/shot", json={"label": label}, headers=auth)
        statuses[r.status_code] += 1
        labelled[image_id] = label
    worker.join(120)
    db.dispose()
    assert not errors, errors
    assert statuses == Counter({200: 200})
    assert model.calls > 1  # the stage ran alongside the requests
    with Database(settings).session() as s:
        shots = {r.image_id: (r.label, r.source) for r in s.scalars(select(ShotRow))}
    assert {i: shots[i] for i in labelled} == {i: (lab, "human") for i, lab in labelled.items()}


def test_edits_racing_a_delete_are_404_never_500(client: TestClient, auth: dict[str, str]) -> None:
    statuses: Counter[int] = Counter()
    for n in range(25):
        body = {"external_id": f"race-{n}", "images": [f"https://example.com/{n}/{k}.jpg"
                                                        for k in range(3)]}  # fmt: skip
        product = client.post("/v1/products", json=body, headers=auth).json()
        images = [e["id"] for e in client.get(f"/v1/products/{product['id']}/images").json()]
        gone = threading.Thread(
            target=lambda pid=product["id"]: client.delete(f"/v1/products/{pid}", headers=auth)
        )
        gone.start()
        for image_id in images:
            r = client.put(f"/v1/images/{image_id}/shot", json={"label": "back"}, headers=auth)
            statuses[r.status_code] += 1
        order = {"image_ids": images[::-1]}
        r = client.put(f"/v1/products/{product['id']}/images/order", json=order, headers=auth)
        statuses[r.status_code] += 1
        gone.join(30)
    assert set(statuses) <= {200, 404}, statuses
    assert statuses[404]  # some did lose the race, and said so
