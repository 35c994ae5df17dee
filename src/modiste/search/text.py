"""Keyword search over titles, brands, types and descriptions, with fashion synonyms.

SQLite: FTS5 with the trigram tokenizer (migration 0002), ranked by BM25 with the title weighted
highest. Terms shorter than three characters (e.g. 靴, "xl") can't be trigram-matched and use
LIKE instead. PostgreSQL (migration 0009): a GIN index over each product's character trigrams
finds the candidates (all trigrams of one of a concept's terms present), one case-insensitive
regex per column checks the terms themselves, and the rank weights the columns as BM25 does
here: a concept in the title counts most, then brand, type, description. Other databases: ILIKE
alone, the same results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, literal, literal_column, or_, select, table, text
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.genders import gender_spellings
from modiste.catalog.repository import contains, in_category
from modiste.catalog.schema import ProductRow, Seller
from modiste.errors import ConfigError
from modiste.index.filters import category_key
from modiste.search.synonyms import Synonyms

# BM25 column weights: title, brand, product_type, description.
_WEIGHTS = (10.0, 4.0, 3.0, 1.0)


@dataclass(frozen=True)
class SearchFilters:
    category: str | None = None  # a product_type path: that category or below it (in_category)
    gender: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    seller: str | None = None


@dataclass
class TextHit:
    product_id: int
    score: float
    title: str
    product: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextResults:
    query: str
    expanded: list[list[str]]
    total: int
    page: int
    per_page: int
    hits: list[TextHit]
    # every product the words found (filters applied), counted per category, gender and seller
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


SORTS = ("relevance", "price_asc", "price_desc")


def _facets(
    session: Session, found: Any, params: dict[str, str]
) -> dict[str, list[tuple[str, int]]]:
    """How many of the found products fall in each category, gender and seller, most first."""
    ids = found.subquery("found")

    def count(column: Any, *joins: Any) -> list[tuple[str, int]]:
        stmt = select(column, func.count()).select_from(ProductRow)
        stmt = stmt.join(ids, ids.c.id == ProductRow.id)
        for target, on in joins:
            stmt = stmt.join(target, on)
        rows = session.execute(stmt.where(column.is_not(None)).group_by(column), params).all()
        return sorted(((str(v), int(n)) for v, n in rows if v), key=lambda r: (-r[1], r[0]))

    return {
        "category": count(ProductRow.product_type),
        "gender": count(func.lower(ProductRow.gender)),
        "seller": count(Seller.name, (Seller, Seller.id == ProductRow.seller_id)),
    }


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _filter_clauses(flt: SearchFilters) -> list[Any]:
    clauses: list[Any] = []
    if category_key(flt.category):
        clauses.append(in_category(flt.category or ""))
    if genders := gender_spellings(flt.gender):
        # every spelling of it: catalogs imported before genders were normalised keep theirs
        clauses.append(func.lower(ProductRow.gender).in_(genders))
    if flt.min_price is not None:
        clauses.append(ProductRow.price >= flt.min_price)
    if flt.max_price is not None:
        clauses.append(ProductRow.price <= flt.max_price)
    if flt.seller:
        clauses.append(ProductRow.seller.has(Seller.name == flt.seller))
    return clauses


_COLUMNS = (ProductRow.title, ProductRow.brand, ProductRow.product_type, ProductRow.description)


def _like_any(terms: frozenset[str], columns: tuple[Any, ...] = _COLUMNS) -> Any:
    return or_(*(contains(col, t) for t in terms for col in columns))


_REGEX_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _regex_any(terms: frozenset[str], columns: tuple[Any, ...] = _COLUMNS) -> Any:
    """PostgreSQL's check of a concept: one case-insensitive regex per column for all its terms.

    Each ILIKE lower-cases the whole text again, so a ten-term concept read every candidate's
    description ten times (and ten more for the rank): 2-9x slower than SQLite's FTS5 on broad
    queries in benchmarks/capacity_bench.py. Terms are escaped: they match as written.
    """
    pattern = "|".join(_REGEX_SPECIAL.sub(r"\\\1", t) for t in sorted(terms))
    return or_(*(col.op("~*")(pattern) for col in columns))


def _trigram_candidates(terms: list[str]) -> Any:
    """Rows holding every trigram of one of the terms: the expression of migration 0009's GIN
    index, so PostgreSQL answers it from the index (a regex then checks the terms themselves)."""
    doc = func.modiste_product_trigrams(*_COLUMNS)
    return or_(*(doc.op("@>")(func.modiste_trigrams(t)) for t in terms))


def _column_weighted_score(concepts: list[frozenset[str]]) -> Any:
    """Per concept, the weight of each column it appears in (BM25's column weights, without
    term frequencies): a title match outranks a description match."""
    return sum(
        (
            case((_regex_any(c, (col,)), weight), else_=0.0)
            for c in concepts
            for col, weight in zip(_COLUMNS, _WEIGHTS, strict=True)
        ),
        literal(0.0),
    )


def _colour_match(terms: frozenset[str], colour: str) -> Any:
    """A colour word: in the text, in a feed's own colour column, or the colour of the photos
    (attributes["photo_colour"], from the "colour" ingest stage): feeds rarely say it."""
    attrs = ProductRow.attributes
    feed = [contains(attrs[key].as_string(), t) for key in ("color", "colour") for t in terms]
    return or_(_like_any(terms), *feed, attrs["photo_colour"].as_string() == colour)


class TextSearch:
    """Search products by words; results are products (a product is one hit)."""

    def __init__(self, synonyms: Synonyms) -> None:
        self.synonyms = synonyms

    def search(
        self,
        session: Session,
        query: str,
        filters: SearchFilters | None = None,
        *,
        page: int = 1,
        per_page: int = 20,
        sort: str = "relevance",
        facets: bool = False,
    ) -> TextResults:
        """A page of products matching every concept of ``query``, best first or by price
        (``sort``, one of :data:`SORTS`); ``facets`` also counts all of them per category,
        gender and seller."""
        if sort not in SORTS:
            raise ConfigError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
        filters = filters or SearchFilters()
        page, per_page = max(1, page), max(1, min(per_page, 100))
        concepts = self.synonyms.concepts(query)
        expanded = [sorted(c) for c in concepts]
        if not concepts:
            return TextResults(query, expanded, 0, page, per_page, [])
        dialect = session.get_bind().dialect.name
        sqlite, postgres = dialect == "sqlite", dialect == "postgresql"
        where = _filter_clauses(filters)
        score = None
        fts_parts: list[str] = []
        for concept in concepts:
            if colour := self.synonyms.colour(concept):
                where.append(_colour_match(concept, colour))
                continue
            long_terms = [t for t in concept if len(t) >= 3]
            short_terms = frozenset(t for t in concept if len(t) < 3)
            if sqlite and long_terms and not short_terms:
                fts_parts.append("(" + " OR ".join(_fts_quote(t) for t in sorted(long_terms)) + ")")
            elif postgres and long_terms and not short_terms:
                where.extend((_trigram_candidates(sorted(long_terms)), _regex_any(concept)))
            else:
                where.append(_regex_any(concept) if postgres else _like_any(concept))
        query_stmt = select(ProductRow.id)
        if fts_parts:
            weights = ", ".join(str(w) for w in _WEIGHTS)
            fts = (
                select(
                    literal_column("products_fts.rowid").label("pid"),
                    literal_column(f"bm25(products_fts, {weights})").label("rank"),
                )
                .select_from(table("products_fts"))
                .where(text("products_fts MATCH :match"))
                .subquery("fts")
            )
            query_stmt = select(ProductRow.id, (-fts.c.rank).label("score")).join(
                fts, fts.c.pid == ProductRow.id
            )
            score = fts.c.rank
        elif postgres:
            query_stmt = select(ProductRow.id, _column_weighted_score(concepts).label("score"))
        else:
            # No FTS: rank by how many concepts appear in the title (all must appear somewhere).
            title_hits = sum(
                (
                    case((or_(*(contains(ProductRow.title, t) for t in c)), 1.0), else_=0.0)
                    for c in concepts
                ),
                literal(1.0),
            )
            query_stmt = select(ProductRow.id, title_hits.label("score"))
        if where:
            query_stmt = query_stmt.where(and_(*where))
        params = {"match": " AND ".join(fts_parts)} if fts_parts else {}  # bound, never inlined
        total = session.scalar(select(func.count()).select_from(query_stmt.subquery()), params) or 0
        ordered = query_stmt
        if sort != "relevance":  # unpriced products last, then the best match first
            price = ProductRow.price.asc() if sort == "price_asc" else ProductRow.price.desc()
            ordered = ordered.order_by(ProductRow.price.is_(None), price)
        ordered = ordered.order_by(score.asc() if score is not None else text("score DESC"))
        ordered = ordered.order_by(ProductRow.id).limit(per_page).offset((page - 1) * per_page)
        rows: list[Any] = list(session.execute(ordered, params).all())
        products = {
            p.id: p
            for p in session.scalars(
                select(ProductRow)
                .where(ProductRow.id.in_([r[0] for r in rows]))
                .options(selectinload(ProductRow.seller), selectinload(ProductRow.images))
            )
        }
        from modiste.catalog.repository import product_dict

        hits = [
            TextHit(pid, round(float(s), 4), products[pid].title, product_dict(products[pid]))
            for pid, s in rows
            if pid in products
        ]
        counts = _facets(session, query_stmt, params) if facets and total else {}
        return TextResults(query, expanded, int(total), page, per_page, hits, counts)
