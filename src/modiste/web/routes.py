"""The web UI: shopper search, product page, catalog editor, gallery review, duplicates.

Pages are rendered on the server from the same catalog functions the API uses; the browser
calls the /v1 API for searches and for every change (sending the API key kept in
localStorage). With ``api_public_read`` off, the pages need a key like the API's reads: the key
form also stores it in a same-site cookie, which is what page loads and images carry.
Pages only answer GET: every change is a fetch() with the ``X-API-Key`` header of a key with the
write scope, which a cross-site form cannot send, so no page needs a CSRF token (a page route
taking a POST would: ``tests/api/test_scopes_and_csrf.py`` fails until it has one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from modiste import __version__
from modiste.api.deps import DbDep, GalleryDep, SessionDep, SettingsDep, StoreDep
from modiste.api.ids import IdPath
from modiste.api.problems import NotAvailable
from modiste.api.routes.duplicates import groups_public
from modiste.api.schemas import image_urls, product_public
from modiste.api.security import read_access
from modiste.catalog.gallery_edits import ordered_gallery
from modiste.catalog.genders import GENDERS, gender_label
from modiste.catalog.links import safe_href
from modiste.catalog.lookups import CONFIDENCE_SORTS, facets, products_by_confidence
from modiste.catalog.repository import ProductFilter, get_product
from modiste.catalog.repository_dupes import list_groups, other_offers
from modiste.web.compliance_view import catalog_context, review_context
from modiste.web.facets import category_options, gender_options
from modiste.web.labels import format_price, review_choices, shot_name

HERE = Path(__file__).resolve().parent
router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
PER_PAGE = 30
EDITOR_PER_PAGE = 12  # an editor card is tall: 30 made a 7,000 px page on a phone


def _templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates  # type: ignore[no-any-return]


def _page(request: Request, name: str, page: str, **context: Any) -> HTMLResponse:
    return _templates(request).TemplateResponse(
        request, name, {"page": page, "version": __version__, **context}
    )


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    found = facets(session)
    categories = category_options(found["product_types"])
    genders = gender_options(found["genders"])
    return _page(
        request, "search.html", "search", facets=found, categories=categories, genders=genders,
        max_upload_bytes=settings.api_max_upload_bytes,  # checked in the page before sending
    )  # fmt: skip


@router.get("/products/{product_id}", response_class=HTMLResponse)
def product_page(request: Request, product_id: IdPath, session: SessionDep) -> HTMLResponse:
    product = product_public(get_product(session, product_id))
    gallery = [
        {"entry": e, "urls": image_urls(e.image)}
        for e in ordered_gallery(session, product_id)
        if e.image.status == "stored" and e.image.in_gallery is not False
    ]
    offers = [product_public(p) for p in other_offers(session, product_id)]
    return _page(
        request, "product.html", "product", product=product, gallery=gallery, offers=offers
    )


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(
    request: Request,
    session: SessionDep,
    sort: Annotated[str, Query(pattern="^(type|gender|shot)$")] = "type",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=200)] = "",
    gender: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The editor: least certain first, searchable and filtered, a page at a time."""
    flt = ProductFilter(product_type=category or None, gender=gender or None, query=q or None)
    rows, total = products_by_confidence(
        session, sort, limit=EDITOR_PER_PAGE, offset=(page - 1) * EDITOR_PER_PAGE, flt=flt
    )
    items = [{"p": product_public(p), "conf": c} for p, c in rows]
    pages = max(1, -(-total // EDITOR_PER_PAGE))
    found = facets(session)
    shown = {"q": q, "category": category, "gender": gender}
    return _page(
        request, "catalog.html", "catalog", items=items, sort=sort, sorts=CONFIDENCE_SORTS,
        page_no=page, pages=pages, total=total, shown=shown,
        keep=urlencode({k: v for k, v in shown.items() if v}),  # filters kept by tabs, pager
        categories=category_options(found["product_types"]), types=found["product_types"],
        genders=gender_options(found["genders"]),
    )  # fmt: skip


@router.get("/review/{product_id}", response_class=HTMLResponse)
def review_page(
    request: Request, product_id: IdPath, session: SessionDep, gallery: GalleryDep,
    settings: SettingsDep, db: DbDep, store: StoreDep,
    profile: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:  # fmt: skip
    product = product_public(get_product(session, product_id))
    entries = [
        {"entry": e, "urls": image_urls(e.image)} for e in ordered_gallery(session, product_id)
    ]
    try:
        labels = gallery.labels()
        choices = review_choices(*gallery.label_groups(), labels)  # words, in a sensible order
    except NotAvailable:
        labels, choices = [], []
    verdict = review_context(settings, db, store, profile, product_id)  # the channel check
    return _page(
        request, "review.html", "review", product=product, entries=entries, labels=labels,
        choices=choices,
        **verdict,
    )  # fmt: skip


@router.get("/compliance", response_class=HTMLResponse)
def compliance_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    profile: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Products failing a channel profile, worst first, from the stored checks (issue #15)."""
    context = catalog_context(settings, session, profile, page, PER_PAGE)
    return _page(request, "compliance.html", "compliance", page_no=page, **context)


@router.get("/duplicates", response_class=HTMLResponse)
def duplicates_page(
    request: Request,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(open|confirmed|split)$")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    groups, total = list_groups(
        session, status=status, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return _page(
        request, "duplicates.html", "duplicates", groups=groups_public(session, groups),
        total=total, status=status, page_no=page, pages=max(1, -(-total // PER_PAGE)),
    )  # fmt: skip


def plural(n: int, one: str, many: str | None = None) -> str:
    """Count and noun that agree, "1 product" / "2 products": a Jinja filter for the pages."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def favicon() -> FileResponse:
    """Browsers and tools ask for /favicon.ico whatever the page says: the same small SVG."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


def mount_web(app: FastAPI) -> None:
    """Attach the pages, the templates and /static to ``app``."""
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    # every href/src built from data goes through it: no javascript:/data: links
    app.state.templates.env.filters["safe_url"] = safe_href
    app.state.templates.env.filters["gender_label"] = gender_label  # "men" -> "Men"
    app.state.templates.env.filters["plural"] = plural
    app.state.templates.env.filters["shot_name"] = shot_name  # near_front -> Front
    app.state.templates.env.filters["money"] = format_price  # 79.0, USD -> $79.00
    app.state.templates.env.globals["gender_choices"] = list(GENDERS.items())
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)
    # outside the router: public like /static, even when the catalog is private
    app.add_api_route("/favicon.ico", favicon, include_in_schema=False)
