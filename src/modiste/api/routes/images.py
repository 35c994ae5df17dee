"""/v1/images: original bytes, cached thumbnails, and a person's shot label."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from modiste.api.deps import GalleryDep, ReadAccess, SessionDep, StoreDep, WriteKey
from modiste.api.ids import IdPath
from modiste.api.schemas import (
    ExportPublic,
    GalleryImagePublic,
    ImageHiddenIn,
    ShotLabelIn,
    gallery_image_public,
)
from modiste.catalog import gallery_edits
from modiste.catalog.schema import ImageRow
from modiste.errors import NotFoundError

router = APIRouter(tags=["images"])
_MEDIA = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
          "GIF": "image/gif", "BMP": "image/bmp", "TIFF": "image/tiff"}  # fmt: skip
THUMB_SIZES = (64, 128, 256, 512, 1024)
# Thumbnails are cached per size on disk, so sizes snap to a few buckets.


def _stored(session: SessionDep, image_id: int) -> ImageRow:
    img = session.get(ImageRow, image_id)
    if img is None:
        raise NotFoundError(f"no image {image_id}")
    if img.status != "stored" or not img.content_hash:
        raise NotFoundError(f"image {image_id} is not stored ({img.status})")
    return img


def _not_modified(request: Request, etag: str) -> bool:
    return request.headers.get("if-none-match") == etag


@router.get(
    "/images/{image_id}", response_class=Response, responses={200: {"content": {"image/*": {}}}}
)
def original(
    image_id: IdPath, request: Request, session: SessionDep, store: StoreDep, _: ReadAccess
) -> Response:
    img = _stored(session, image_id)
    etag = f'"{img.content_hash}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    data = store.get(img.content_hash or "")
    return Response(data, media_type=_MEDIA.get(img.format or "", "application/octet-stream"),
                    headers=headers)  # fmt: skip


@router.get("/images/{image_id}/thumb", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})  # fmt: skip
def thumbnail(
    image_id: IdPath,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    _: ReadAccess,
    size: Annotated[int, Query(ge=16, le=2048, description="Longest side in pixels.")] = 256,
) -> Response:
    img = _stored(session, image_id)
    bucket = next((s for s in THUMB_SIZES if s >= size), THUMB_SIZES[-1])
    etag = f'"{img.content_hash}-{bucket}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    path = store.thumbnail(img.content_hash or "", bucket)
    return FileResponse(path, media_type="image/jpeg", headers=headers)


@router.put("/images/{image_id}/shot", response_model=GalleryImagePublic)
def set_shot(
    image_id: IdPath,
    body: ShotLabelIn,
    session: SessionDep,
    store: StoreDep,
    gallery: GalleryDep,
    _: WriteKey,
) -> GalleryImagePublic:
    """Record a person's shot label and export the photo as a training example."""
    img = gallery_edits.set_shot_label(session, image_id, body.label, gallery.labels())
    if img.status == "stored" and img.content_hash:
        gallery_edits.export_correction(
            store, gallery.corrections_dir, img.content_hash, body.label
        )
    entries = gallery_edits.ordered_gallery(session, img.product_id)
    return gallery_image_public(next(e for e in entries if e.image.id == img.id))


@router.put("/images/{image_id}/hidden", response_model=GalleryImagePublic)
def set_hidden(
    image_id: IdPath, body: ImageHiddenIn, session: SessionDep, _: WriteKey
) -> GalleryImagePublic:
    """Hide a photo from the gallery, search and exports (the file is kept), or show it again."""
    img = gallery_edits.set_hidden(session, image_id, body.hidden)
    entries = gallery_edits.ordered_gallery(session, img.product_id)
    return gallery_image_public(next(e for e in entries if e.image.id == img.id))


@router.post("/corrections/export", response_model=ExportPublic, tags=["gallery"])
def export_all(
    session: SessionDep, store: StoreDep, gallery: GalleryDep, _: WriteKey
) -> ExportPublic:
    """Write every human-labelled photo to DATA_DIR/corrections/<label>/ for `shots learn`."""
    n = gallery_edits.export_corrections(session, store, gallery.corrections_dir)
    return ExportPublic(written=n, folder=str(gallery.corrections_dir))
