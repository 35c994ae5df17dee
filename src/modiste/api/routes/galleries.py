"""/v1/galleries/sort and /v1/regulations: order uploaded photos; read and save regulations."""

from __future__ import annotations

import pathlib
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, UploadFile

from modiste.api.adapters import GalleryAdapter
from modiste.api.deps import AdminKey, GalleryDep, ReadAccess, SettingsDep
from modiste.api.problems import PayloadTooLarge
from modiste.api.ratelimit import rate_limited
from modiste.api.schemas import (
    GallerySortPublic,
    RegulationIn,
    RegulationPublic,
    RegulationSummary,
    SortedImagePublic,
)
from modiste.api.uploads import GALLERY_DRAFT, PixelAllowance, decode_upload

router = APIRouter(tags=["gallery"])
MAX_FILES = 40
_Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


def _origin(reg: Any, gallery: GalleryAdapter) -> str | None:
    """Where a regulation comes from, as a word: its file path would tell any reader of a
    public catalog how the server's disk is laid out."""
    source = getattr(reg, "source", None)
    if source is None:
        return None
    saved = pathlib.Path(source).resolve().parent == gallery.user_dir.resolve()
    return "saved" if saved else "shipped"


def _summary(reg: Any, gallery: GalleryAdapter) -> RegulationSummary:
    return RegulationSummary(
        name=reg.name,
        description=getattr(reg, "description", ""),
        source=_origin(reg, gallery),
    )


def _public(reg: Any, gallery: GalleryAdapter) -> RegulationPublic:
    summary = _summary(reg, gallery).model_dump()
    return RegulationPublic(**summary, rules=reg.to_dict(), yaml=reg.to_yaml())


@router.post(
    "/galleries/sort",
    response_model=GallerySortPublic,
    dependencies=[rate_limited("gallery sort")],
)
async def sort_gallery(
    settings: SettingsDep,
    gallery: GalleryDep,
    _: ReadAccess,
    files: Annotated[list[UploadFile], File(description="The product's photos, in feed order.")],
    regulation: Annotated[str | None, Form(max_length=100)] = None,
    category: Annotated[str | None, Form(max_length=200)] = None,
) -> GallerySortPublic:
    """Classify each photo's shot type and order them by a regulation, with a reason each."""
    if len(files) > MAX_FILES:
        raise PayloadTooLarge(f"at most {MAX_FILES} photos per request (got {len(files)})")
    keys, images = [], []
    allowance = PixelAllowance(settings.api_max_request_pixels)
    for i, f in enumerate(files):
        # Classifier-size pixels only: forty full-size photos would be kept until the sort.
        decoded = await decode_upload(f, settings, draft_size=GALLERY_DRAFT, allowance=allowance)
        keys.append(f.filename or f"image-{i + 1}")
        images.append(decoded.image)
    name, items, missing = gallery.sort(keys, images, regulation or None, category or None)
    return GallerySortPublic(
        regulation=name,
        category=category,
        items=[SortedImagePublic(**vars(i)) for i in items],
        missing=missing,
    )


@router.get("/regulations", response_model=list[RegulationSummary])
def list_regulations(gallery: GalleryDep, _: ReadAccess) -> list[RegulationSummary]:
    return [_summary(r, gallery) for r in gallery.all()]


@router.get("/regulations/{name}", response_model=RegulationPublic)
def get_regulation(name: _Name, gallery: GalleryDep, _: ReadAccess) -> RegulationPublic:
    return _public(gallery.get(name), gallery)


@router.put("/regulations/{name}", response_model=RegulationPublic)
def put_regulation(
    name: _Name, body: RegulationIn, gallery: GalleryDep, _: AdminKey
) -> RegulationPublic:
    """Validate a YAML regulation against the taxonomy and save it to DATA_DIR/regulations."""
    return _public(gallery.save(name, body.yaml), gallery)
