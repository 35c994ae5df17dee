"""The invariants the crash benchmark checks after every kill, read straight from the data folder
(SQLite file, image store, index manifest), never through the code under test's caches.

A check returns a list of violations (one line each); empty means it held.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Acknowledged:
    """What a client was told succeeded before a kill: it must survive every later crash."""

    products: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # -> image sources
    prices: dict[tuple[str, str], float] = field(default_factory=dict)  # API PATCHes

    def add(self, seller: str, external_id: str, sources: list[str]) -> None:
        self.products.setdefault((seller, external_id), set()).update(sources)


def _rows(db_file: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def check_database(db_file: Path, ack: Acknowledged) -> list[str]:
    """Integrity, acknowledged writes present, no duplicate rows."""
    out: list[str] = []
    integrity = [r[0] for r in _rows(db_file, "PRAGMA integrity_check")]
    if integrity != ["ok"]:
        out.append(f"integrity_check: {integrity[:3]}")
    stored: dict[tuple[str, str], set[str]] = {}
    prices: dict[tuple[str, str], float | None] = {}
    for seller, ext, price, source in _rows(
        db_file,
        "SELECT s.name, p.external_id, p.price, i.source FROM products p "
        "JOIN sellers s ON s.id = p.seller_id LEFT JOIN images i ON i.product_id = p.id",
    ):
        key = (str(seller), str(ext))
        stored.setdefault(key, set())
        prices[key] = price  # type: ignore[assignment]
        if source is not None:
            stored[key].add(str(source))
    for key, sources in ack.products.items():
        if key not in stored:
            out.append(f"acknowledged product {key} is missing")
        elif not sources <= stored[key]:
            out.append(f"acknowledged images of {key} missing: {sorted(sources - stored[key])}")
    for key, price in ack.prices.items():
        if key in stored and prices.get(key) != price:
            out.append(f"acknowledged price of {key} is {prices.get(key)}, not {price}")
    duplicates = {
        "products": "SELECT seller_id, external_id FROM products GROUP BY 1, 2",
        "images": "SELECT product_id, source FROM images GROUP BY 1, 2",
        "shot_predictions": "SELECT image_id FROM shot_predictions GROUP BY 1",
        "garments": "SELECT image_id, label, x1, y1, x2, y2 FROM garments "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        "image_stages": "SELECT image_id, stage FROM image_stages GROUP BY 1, 2",
    }
    for table, grouped in duplicates.items():
        n = _rows(db_file, f"SELECT count(*) FROM ({grouped} HAVING count(*) > 1)")[0][0]
        if n:
            out.append(f"{n} duplicated rows in {table}")
    return out


def check_files(data_dir: Path) -> list[str]:
    """After a run that finished: no temp files, no stored original that no row names."""
    out: list[str] = []
    temps = [
        p
        for p in data_dir.rglob("*")
        if p.is_file() and (p.name.startswith(".tmp-") or p.suffix == ".tmp")
    ]
    if temps:
        out.append(f"{len(temps)} temp files left, e.g. {temps[0].relative_to(data_dir)}")
    hashes = {  # originals, and the garment crops stored beside them
        str(h)
        for (h,) in _rows(
            data_dir / "modiste.db",
            "SELECT content_hash FROM images UNION SELECT crop_hash FROM garments",
        )
    }
    images = data_dir / "images"
    orphans = (
        [p for p in images.rglob("*") if p.is_file() and p.name not in hashes]
        if images.is_dir()
        else []
    )
    if orphans:
        out.append(
            f"{len(orphans)} orphan files (originals or crops) in images/, "
            f"e.g. {orphans[0].name[:16]}"
        )
    return out


def check_index(data_dir: Path) -> list[str]:
    """After an ingest that finished: the vector index holds exactly the indexed garments."""
    from modiste.config import Settings
    from modiste.search.indexing import open_built_index

    db_file = data_dir / "modiste.db"
    expected = {
        int(g)  # type: ignore[call-overload]
        for (g,) in _rows(
            db_file,
            "SELECT g.id FROM garments g JOIN images i ON i.id = g.image_id "
            "WHERE g.indexed = 1 AND i.status = 'stored' "
            "AND (i.in_search IS NULL OR i.in_search = 1)",
        )
    }
    index = open_built_index(Settings(data_dir=data_dir))
    if index is None:
        return [f"no index built, {len(expected)} garments marked indexed"] if expected else []
    try:
        stored = {int(i) for i, _payload in index.payload_items()}
    finally:
        index.close()
    out = []
    if stored - expected:
        out.append(f"{len(stored - expected)} vectors without an indexed garment")
    if expected - stored:
        out.append(f"{len(expected - stored)} indexed garments without a vector")
    pending = _rows(
        db_file,
        "SELECT count(*) FROM images i WHERE i.status = 'pending' OR NOT EXISTS "
        "(SELECT 1 FROM image_stages s WHERE s.image_id = i.id AND s.stage = 'store')",
    )[0][0]
    if pending:
        out.append(f"{pending} images still pending after a finished ingest")
    return out
