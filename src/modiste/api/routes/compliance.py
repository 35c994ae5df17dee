"""/v1/compliance and /v1/products/{id}/compliance: galleries against a channel profile."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from modiste.api.deps import DbDep, ReadAccess, SessionDep, SettingsDep, StoreDep
from modiste.api.ids import IdPath
from modiste.compliance.catalog import failing_products, product_compliance
from modiste.compliance.measure import OcrLike, default_ocr
from modiste.compliance.profiles import Profile, list_profiles, load_profile
from modiste.config import Settings
from modiste.errors import ConfigError, NotFoundError

router = APIRouter(tags=["compliance"])
_ProfileName = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="A channel profile, shipped (amazon, zalando...) or in DATA_DIR/profiles.",
    ),
]


class ViolationPublic(BaseModel):
    rule: str
    message: str
    measured: Any = None
    limit: Any = None


class SkippedRulePublic(BaseModel):
    rule: str
    message: str


class ImageCompliancePublic(BaseModel):
    image: str = Field(description="The image id.")
    shot: str | None = None
    rank: int | None = Field(None, description="Place in the channel's gallery.")
    violations: list[ViolationPublic]
    skipped: list[SkippedRulePublic] = Field(
        default_factory=list, description="Rules that could not be checked, and why."
    )


class ImageErrorPublic(BaseModel):
    image: str
    error: str


class ProductCompliancePublic(BaseModel):
    profile: str
    product: int
    external_id: str | None = None
    stored: bool = Field(description="True when a stored, still current result was returned.")
    violations: list[ViolationPublic]
    images: list[ImageCompliancePublic]
    errors: list[ImageErrorPublic] = Field(default_factory=list)


class FailingProductPublic(BaseModel):
    product_id: int
    external_id: str
    title: str
    violations: int
    rules: list[str]
    checked_at: datetime | None = None


class CompliancePage(BaseModel):
    profile: str
    total: int = Field(description="Products failing the profile among those checked.")
    limit: int
    offset: int
    items: list[FailingProductPublic]


_ocr_lock = threading.Lock()
_ocr: list[OcrLike | None] = []


def _shared_ocr() -> OcrLike | None:
    """One OCR reader per process: its engine takes seconds to load."""
    with _ocr_lock:
        if not _ocr:
            _ocr.append(default_ocr())
        return _ocr[0]


def _profile(name: str, settings: Settings) -> Profile:
    """By name only (never a path: the server's files are not the caller's to name); a broken
    saved profile is reported without its location."""
    known = list_profiles(settings)
    if name not in known:
        raise NotFoundError(f"no profile {name!r}; known profiles: {', '.join(known)}")
    try:
        return load_profile(name, settings)
    except ConfigError as e:
        raise ConfigError(
            f"profile {name!r} is invalid; `modiste check --profile {name}` on the server says why"
        ) from e


@router.get("/products/{product_id}/compliance", response_model=ProductCompliancePublic)
def product_check(
    product_id: IdPath,
    profile: _ProfileName,
    settings: SettingsDep,
    db: DbDep,
    store: StoreDep,
    _: ReadAccess,
) -> ProductCompliancePublic:
    """The product's gallery against a channel profile: violations per rule with the measured
    figure and the limit. A stored result is returned while the gallery and profile are
    unchanged; otherwise the product is checked now and the result stored."""
    prof = _profile(profile, settings)
    report, stored = product_compliance(
        settings, db, prof, product_id, ocr=_shared_ocr(), store=store
    )
    return ProductCompliancePublic(
        profile=prof.name,
        product=int(report["product"]),
        external_id=report.get("external_id"),
        stored=stored,
        violations=report["violations"],
        images=report["images"],
        errors=report.get("errors", []),
    )


@router.get("/compliance", response_model=CompliancePage)
def failing(
    profile: _ProfileName,
    settings: SettingsDep,
    session: SessionDep,
    _: ReadAccess,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CompliancePage:
    """Products that fail a profile, worst first, from the stored checks (made by ingest for
    MODISTE_COMPLIANCE_PROFILES, by `modiste check --profile NAME`, or by the product route)."""
    prof = _profile(profile, settings)
    total, rows = failing_products(session, prof.name, limit=limit, offset=offset)
    return CompliancePage(
        profile=prof.name,
        total=total,
        limit=limit,
        offset=offset,
        items=[FailingProductPublic(**vars(r)) for r in rows],
    )
