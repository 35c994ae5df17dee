"""/v1/search: by photo (per detected garment), by product (similar), by words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy.orm import Session

from modiste.api.deps import DbDep, ReadAccess, SearchDep, SessionDep, SettingsDep
from modiste.api.ids import IdPath
from modiste.api.ratelimit import rate_limited
from modiste.api.schemas import (
    BoxPublic,
    FacetCount,
    HitPublic,
    ImageSearchPublic,
    ObjectResultPublic,
    SimilarPublic,
    TextSearchPublic,
    product_summary,
)
from modiste.api.uploads import SEARCH_DRAFT, decode_upload
from modiste.catalog.lookups import products_by_ids
from modiste.catalog.repository import get_product

router = APIRouter(tags=["search"])
_K = Annotated[int, Query(ge=1, le=100)]


def _filters(
    search: SearchDep,
    category: str | None,
    gender: str | None,
    min_price: float | None,
    max_price: float | None,
    seller: str | None,
) -> Any:
    return search.filters(
        category=category or None,
        gender=gender or None,
        min_price=min_price,
        max_price=max_price,
        seller=seller or None,
    )


def _hits(session: Session, raw: Iterable[Any]) -> list[HitPublic]:
    raw = list(raw)
    products = products_by_ids(session, [int(h.product_id) for h in raw])
    summaries = {pid: product_summary(p) for pid, p in products.items()}
    return [
        HitPublic(
            product_id=int(h.product_id),
            score=round(float(h.score), 4),
            image_id=getattr(h, "image_id", None),
            product=summaries.get(int(h.product_id)),
        )
        for h in raw
    ]


@router.post(
    "/search/image",
    response_model=ImageSearchPublic,
    dependencies=[rate_limited("photo search")],
)
async def by_image(
    settings: SettingsDep,
    search: SearchDep,
    db: DbDep,
    _: ReadAccess,
    file: Annotated[UploadFile, File(description="A photo: JPEG, PNG, WebP, GIF, BMP or TIFF.")],
    k: Annotated[int, Form(ge=1, le=100)] = 12,
    category: Annotated[str | None, Form(max_length=200)] = None,
    gender: Annotated[str | None, Form(max_length=40)] = None,
    min_price: Annotated[float | None, Form(ge=0)] = None,
    max_price: Annotated[float | None, Form(ge=0)] = None,
    seller: Annotated[str | None, Form(max_length=200)] = None,
) -> ImageSearchPublic:
    """Detect the garments in the photo and search the catalog with each one."""
    decoded = await decode_upload(file, settings, draft_size=SEARCH_DRAFT)
    flt = _filters(search, category, gender, min_price, max_price, seller)
    objects = search.image(decoded.image, flt, k)
    # Detected on the reduced photo; boxes are answered in the pixels of the photo sent.
    sx, sy = decoded.width / decoded.image.width, decoded.height / decoded.image.height
    with db.session() as session:
        out = [
            ObjectResultPublic(
                box=BoxPublic(
                    x1=o.box.x1 * sx, y1=o.box.y1 * sy, x2=o.box.x2 * sx, y2=o.box.y2 * sy
                ),
                label=str(o.label),
                confidence=getattr(o, "confidence", None),
                hits=_hits(session, o.hits),
            )
            for o in objects
        ]
    return ImageSearchPublic(width=decoded.width, height=decoded.height, objects=out)


@router.get("/products/{product_id}/similar", response_model=SimilarPublic, tags=["products"])
def similar(
    product_id: IdPath,
    session: SessionDep,
    search: SearchDep,
    _: ReadAccess,
    k: _K = 12,
    category: Annotated[str | None, Query(max_length=200)] = None,
    gender: Annotated[str | None, Query(max_length=40)] = None,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    seller: Annotated[str | None, Query(max_length=200)] = None,
) -> SimilarPublic:
    get_product(session, product_id)  # 404 before any search work
    flt = _filters(search, category, gender, min_price, max_price, seller)
    return SimilarPublic(
        product_id=product_id, hits=_hits(session, search.similar(product_id, flt, k))
    )


@router.get("/search/text", response_model=TextSearchPublic)
def by_text(
    session: SessionDep,
    search: SearchDep,
    _: ReadAccess,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words (EN, JA...).")],
    category: Annotated[str | None, Query(max_length=200)] = None,
    gender: Annotated[str | None, Query(max_length=40)] = None,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    seller: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    sort: Annotated[
        Literal["relevance", "price_asc", "price_desc"], Query(description="Order of the hits.")
    ] = "relevance",
    facets: Annotated[
        bool, Query(description="Count the matches per category, gender, seller.")
    ] = False,
) -> TextSearchPublic:
    flt = _filters(search, category, gender, min_price, max_price, seller)
    res = search.text(q, flt, page, per_page, sort=sort, facets=facets)
    return TextSearchPublic(
        query=res.query,
        expanded=[list(c) for c in res.expanded],
        total=res.total,
        page=res.page,
        per_page=res.per_page,
        hits=_hits(session, res.hits),
        facets={
            name: [FacetCount(value=v, count=n) for v, n in counts]
            for name, counts in res.facets.items()
        },
    )
