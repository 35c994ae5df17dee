"""A product's gallery as stored (rank, shot label) and the corrections a person makes to it.

Corrections are the training signal for `modiste shots learn`: a relabelled photo is stored as
a ``human`` shot prediction and copied to ``DATA_DIR/corrections/<label>/<hash>.jpg`` (one folder
per class, the layout ``shots learn DIR`` reads). A hand-made order is stored as ``gallery_rank``
with the reason "set by hand", which later automatic ordering must respect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.repository import get_product
from modiste.catalog.schema import ImageRow, ShotRow, StageState, utcnow
from modiste.domain import ShotPrediction
from modiste.errors import ConfigError, ModisteError, NotFoundError
from modiste.imaging.decode import decode_image
from modiste.imaging.store import ImageStore, atomic_write

log = logging.getLogger(__name__)
SET_BY_HAND = "set by hand"
HIDDEN_BY_HAND = "hidden by hand"  # policy_reason of a photo a person hid; the shots stage keeps it
HUMAN = "human"


@dataclass(frozen=True)
class GalleryEntry:
    image: ImageRow
    rank: int
    label: str | None
    confidence: float | None
    label_source: str | None
    reason: str | None


def ordered_gallery(session: Session, product_id: int) -> list[GalleryEntry]:
    """Images in regulation order: ``gallery_rank`` when set, else feed position.

    Images kept out of the gallery (``in_gallery`` false) and images that failed come last.
    """
    product = get_product(session, product_id)

    def key(img: ImageRow) -> tuple[int, int, int, int]:
        hidden = int(img.in_gallery is False or img.status == "failed")
        ranked = img.gallery_rank if img.gallery_rank is not None else 10_000 + img.position
        return (hidden, ranked, img.position, img.id)

    out = []
    for rank, img in enumerate(sorted(product.images, key=key), start=1):
        shot = img.shot
        out.append(
            GalleryEntry(
                image=img,
                rank=rank,
                label=shot.label if shot else None,
                confidence=shot.confidence if shot else None,
                label_source=shot.source if shot else None,
                reason=img.gallery_reason,
            )
        )
    return out


def _lock_images(session: Session, where: Any) -> int:
    """A no-op write to the matching image rows; returns how many there are.

    It takes SQLite's write lock (PostgreSQL: the rows' locks) before anything is read, so a
    delete or an ingest cannot change the rows between this edit's checks and its writes (the
    ORM would otherwise fail the flush with a foreign-key or stale-data error: a 500).
    ``updated_at`` is given, so it stays as it is.
    """
    result = session.execute(update(ImageRow).where(where).values(updated_at=ImageRow.updated_at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_manual_order(session: Session, product_id: int, image_ids: Sequence[int]) -> None:
    """Store a person's order; every image of the product must be named exactly once."""
    _lock_images(session, ImageRow.product_id == product_id)
    product = get_product(session, product_id)
    have = {img.id for img in product.images}
    if len(set(image_ids)) != len(image_ids) or set(image_ids) != have:
        raise ConfigError(
            f"the order must list each of the product's {len(have)} images exactly once "
            f"(got {len(image_ids)} ids)"
        )
    by_id = {img.id: img for img in product.images}
    for rank, image_id in enumerate(image_ids, start=1):
        by_id[image_id].gallery_rank = rank
        by_id[image_id].gallery_reason = SET_BY_HAND
    session.flush()


def clear_manual_order(session: Session, product_id: int) -> int:
    """Forget a person's order (the next ordering is the regulation's); how many ranks it held."""
    _lock_images(session, ImageRow.product_id == product_id)
    product = get_product(session, product_id)
    by_hand = [img for img in product.images if img.gallery_reason == SET_BY_HAND]
    for img in by_hand:
        img.gallery_rank, img.gallery_reason = None, None
    session.flush()
    return len(by_hand)


def set_hidden(session: Session, image_id: int, hidden: bool) -> ImageRow:
    """Hide a photo from the gallery, search and exports, or show it again; the file is kept.

    Hidden is ``in_gallery``/``in_search`` false with the reason :data:`HIDDEN_BY_HAND`, which
    the shots stage does not overwrite. Shown again, the photo's placement is undecided until the
    next ingest re-applies the cleaning policy (a size chart hidden by hand, then shown, goes back
    to where the policy puts it), and its gallery is ordered again then.
    """
    if not _lock_images(session, ImageRow.id == image_id):
        raise NotFoundError(f"no image {image_id}")
    img = _image(session, image_id)
    if hidden:
        img.in_gallery, img.in_search, img.policy_reason = False, False, HIDDEN_BY_HAND
        img.gallery_rank, img.gallery_reason = None, HIDDEN_BY_HAND
    elif img.policy_reason == HIDDEN_BY_HAND:
        img.in_gallery, img.in_search, img.policy_reason, img.gallery_reason = (None,) * 4
        session.execute(
            delete(StageState).where(
                StageState.image_id == image_id, StageState.stage.in_(("shots", "colour"))
            )
        )
    session.flush()
    return img


def _image(session: Session, image_id: int) -> ImageRow:
    # populate_existing: the shot may have been written by a statement, not through the ORM.
    img = session.get(
        ImageRow, image_id, options=(selectinload(ImageRow.shot),), populate_existing=True
    )
    if img is None:
        raise NotFoundError(f"no image {image_id}")
    return img


LABEL_STAGES = ("shots", "care")


def set_shot_label(session: Session, image_id: int, label: str, labels: Sequence[str]) -> ImageRow:
    """Record a person's shot label (source "human", confidence 1)."""
    if label not in labels:
        raise ConfigError(f"unknown shot label {label!r}; valid: {', '.join(labels)}")
    if not _lock_images(session, ImageRow.id == image_id):
        raise NotFoundError(f"no image {image_id}")
    # An upsert, not a read then a write: the shots stage may insert the row meanwhile.
    stmt = _upsert(session)(ShotRow).values(
        image_id=image_id, label=label, confidence=1.0, scores={}, source=HUMAN, model=None,
        created_at=utcnow(),
    )  # fmt: skip
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ShotRow.image_id],
            set_={"label": label, "confidence": 1.0, "source": HUMAN},
        )
    )
    # Stages that act on the label run again for this image at the next ingest: the shots stage
    # keeps the human label and re-applies the placement policy, "care" reads a new wash tag.
    session.execute(
        delete(StageState).where(
            StageState.image_id == image_id, StageState.stage.in_(LABEL_STAGES)
        )
    )
    session.flush()
    return _image(session, image_id)


def _upsert(session: Session) -> Any:
    """The dialect's INSERT that has ``on_conflict_do_update`` (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def save_model_shots(
    session: Session, predictions: Mapping[int, ShotPrediction], model: str
) -> dict[int, str]:
    """Store the model's shot labels, keeping every label a person set; returns image id ->
    the label in force, for the images still in the catalog.

    One upsert per image (``ON CONFLICT (image_id) ... WHERE source <> 'human'``), not a read
    then a write: a person may label the photo, or delete it, while the shots stage runs.
    """
    ids = sorted(predictions)
    if not ids:
        return {}
    # A no-op write first takes SQLite's write lock (PostgreSQL: the rows' locks), so no delete
    # slips in between the check below and the upserts (updated_at given: left as it is).
    touch = update(ImageRow).where(ImageRow.id.in_(ids))
    session.execute(touch.values(updated_at=ImageRow.updated_at))
    present = set(session.scalars(select(ImageRow.id).where(ImageRow.id.in_(ids))))
    insert = _upsert(session)
    now = utcnow()
    for image_id in ids:
        if image_id not in present:
            continue
        pred = predictions[image_id]
        stmt = insert(ShotRow).values(
            image_id=image_id,
            label=pred.label,
            confidence=float(pred.confidence),
            scores={k: round(float(v), 4) for k, v in pred.scores.items()},
            source="model",
            model=model,
            created_at=now,
        )
        new = stmt.excluded
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ShotRow.image_id],
                set_={
                    k: getattr(new, k) for k in ("label", "confidence", "scores", "source", "model")
                },
                where=ShotRow.source != HUMAN,
            )
        )
    rows = session.execute(
        select(ShotRow.image_id, ShotRow.label).where(ShotRow.image_id.in_(list(present)))
    )
    return {int(image_id): str(label) for image_id, label in rows}


def export_correction(store: ImageStore, out_dir: Path, content_hash: str, label: str) -> Path:
    """Copy one corrected photo to ``out_dir/<label>/<hash>.jpg``; drop it from other labels."""
    for stale in out_dir.glob(f"*/{content_hash}.jpg"):
        if stale.parent.name != label:
            stale.unlink(missing_ok=True)
    target = out_dir / label / f"{content_hash}.jpg"
    if target.exists():
        return target
    data = store.get(content_hash)
    decoded = decode_image(data, name=content_hash[:12])
    if decoded.format != "JPEG":
        import io

        buf = io.BytesIO()
        decoded.image.save(buf, format="JPEG", quality=92)
        data = buf.getvalue()
    atomic_write(target, data)
    return target


def export_corrections(session: Session, store: ImageStore, out_dir: Path) -> int:
    """Write every human-labelled, stored photo as a training example; returns how many."""
    rows = session.execute(
        select(ImageRow.content_hash, ShotRow.label)
        .join(ShotRow, ShotRow.image_id == ImageRow.id)
        .where(ShotRow.source == HUMAN, ImageRow.content_hash.is_not(None))
    ).all()
    written = 0
    for content_hash, label in rows:
        try:
            export_correction(store, out_dir, str(content_hash), label)
            written += 1
        except (ModisteError, OSError) as e:  # one bad file must not stop the export
            log.warning("correction %s not exported: %s", str(content_hash)[:12], e)
    return written
