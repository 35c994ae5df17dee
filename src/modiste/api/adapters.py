"""Seams between the API and the service modules (gallery, classifier, search).

Each adapter imports its module on first use. A module that is not installed yet makes the
feature answer 503 "not available yet" instead of failing at start-up or inventing results;
pointing the API at a new module means changing one import here.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from modiste.api.problems import NotAvailable
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.errors import ConfigError, ModelError, NotFoundError

SHOT_CLASSIFIER_MODULE = "modiste.gallery.classifier"
SEARCH_SERVICE_MODULE = "modiste.search.visual"


def optional_module(name: str, feature: str) -> ModuleType:
    """Import ``name``; if that very module is missing, the feature is 'not available yet'."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise NotAvailable(f"{feature} is not available yet ({name} is not installed)") from e
        raise


@dataclass(frozen=True)
class SortedImage:
    key: str
    rank: int | None
    label: str
    confidence: float
    reason: str
    excluded: bool
    position: int  # index in the request: tells apart photos sent under the same file name


class GalleryAdapter:
    """Regulations (files), the shot taxonomy and on-the-fly gallery sorting."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._classifier: Any = None
        self._lock = threading.Lock()

    @property
    def user_dir(self) -> Path:
        return self.settings.regulations_dir

    @property
    def corrections_dir(self) -> Path:
        """Hand-labelled photos, one folder per class: what `modiste shots learn DIR` reads."""
        return self.settings.resolved_data_dir / "corrections"

    def _dirs(self) -> list[Path]:
        reg = optional_module("modiste.gallery.regulation", "gallery regulations")
        return list(reg.saved_regulation_dirs(self.settings))

    def labels(self) -> list[str]:
        taxonomy = optional_module("modiste.gallery.taxonomy", "the shot taxonomy")
        return [*taxonomy.load_taxonomy().labels, taxonomy.UNKNOWN]

    def label_groups(self) -> tuple[dict[str, list[str]], dict[str, str]]:
        """The taxonomy's groups (name → labels, in order) and each group's description."""
        taxonomy = optional_module("modiste.gallery.taxonomy", "the shot taxonomy").load_taxonomy()
        return taxonomy.groups, dict(taxonomy.group_descriptions)

    def reset_order(self, db: Database, product_id: int) -> None:
        """Forget a person's order of the product's photos and order them by the regulation."""
        stage = optional_module("modiste.gallery.stage", "gallery ordering")
        from modiste.catalog.gallery_edits import clear_manual_order
        from modiste.pipeline.stages import StageContext

        with db.session() as session:
            clear_manual_order(session, product_id)
        stage.order_products(StageContext(settings=self.settings, db=db, store=None), [product_id])

    def all(self) -> list[Any]:
        reg = optional_module("modiste.gallery.regulation", "gallery regulations")
        return list(reg.list_regulations(self._dirs()))

    def get(self, name: str | None) -> Any:
        reg = optional_module("modiste.gallery.regulation", "gallery regulations")
        if name is None:  # the configured default (settings.regulation), else the shipped one
            return reg.resolve_regulation(self.settings.regulation, self._dirs())
        for item in reg.list_regulations(self._dirs()):
            if item.name == name:
                return item
        raise NotFoundError(f"no regulation named {name!r}")

    def save(self, name: str, text: str) -> Any:
        """Validate a YAML regulation and write it to DATA_DIR/regulations/<name>.yaml."""
        import yaml

        reg = optional_module("modiste.gallery.regulation", "gallery regulations")
        try:
            data = reg.parse_yaml(text)  # refuses a key given twice
        except yaml.YAMLError as e:
            raise ConfigError(f"regulation {name!r}: not valid YAML ({e})") from e
        if isinstance(data, dict):
            data.setdefault("name", name)
            if data["name"] != name:
                raise ConfigError(f"the YAML names {data['name']!r} but the URL names {name!r}")
        regulation = reg.Regulation.from_dict(data)
        from modiste.imaging.store import atomic_write

        path = self.user_dir / f"{regulation.name}.yaml"
        atomic_write(path, regulation.to_yaml().encode())
        return reg.load_regulation(path)

    def _shot_classifier(self) -> Any:
        with self._lock:
            if self._classifier is None:
                mod = optional_module(SHOT_CLASSIFIER_MODULE, "the shot classifier")
                try:
                    self._classifier = mod.create_shot_classifier(self.settings)
                except (NotFoundError, ModelError) as e:  # no trained head / weights yet
                    raise NotAvailable(f"the shot classifier is not available yet: {e}") from e
            return self._classifier

    def sort(
        self,
        keys: Sequence[str],
        images: Sequence[Any],
        regulation: str | None,
        category: str | None,
    ) -> tuple[str, list[SortedImage], list[str]]:
        """Classify the photos, then order them by the regulation; returns name, items, missing."""
        ordering = optional_module("modiste.gallery.ordering", "gallery ordering")
        rules = self.get(regulation)
        predictions = self._shot_classifier().predict(list(images))
        items = [
            ordering.GalleryItem(key=k, label=p.label, confidence=float(p.confidence), position=i)
            for i, (k, p) in enumerate(zip(keys, predictions, strict=True))
        ]
        result = ordering.order_gallery(items, rules, category)
        placed = [(o.item, o.rank, o.reason, False) for o in result.items]
        placed += [(e.item, None, e.reason, True) for e in result.excluded]
        out = [
            SortedImage(
                key=item.key,
                rank=rank,
                label=item.label,
                confidence=item.confidence,
                reason=reason,
                excluded=excluded,
                position=item.position,
            )
            for item, rank, reason, excluded in placed
        ]
        missing = list(getattr(result, "missing_reasons", None) or result.missing)
        return result.regulation, out, missing


class SearchAdapter:
    """Visual, similar-product and text search. Text search works with the catalog alone."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._service: Any = None
        self._stamp: int | None = None
        self._text: Any = None
        self._lock = threading.Lock()

    def _index_stamp(self) -> int | None:
        """When the visual index was last committed (its manifest is replaced on each save)."""
        from modiste.index.persist import MANIFEST

        indexing = optional_module("modiste.search.indexing", "visual search")
        try:
            return (indexing.index_dir(self.settings) / MANIFEST).stat().st_mtime_ns
        except OSError:
            return None

    def _visual(self) -> Any:
        with self._lock:
            stamp = self._index_stamp()
            if self._service is not None and stamp != self._stamp:
                # An ingest (a job here, or the CLI) saved the index since: read it again; the
                # models stay loaded.
                indexing = optional_module("modiste.search.indexing", "visual search")
                service = self._service
                service.index = indexing.open_visual_index(self.settings, service.embedder)
                self._stamp = stamp
            if self._service is None:
                self._stamp = stamp
                mod = optional_module(SEARCH_SERVICE_MODULE, "visual search")
                factory = getattr(mod, "create_search_service", None)
                self._service = (
                    factory(self.settings, self.db)
                    if factory
                    else mod.SearchService(self.settings, self.db)
                )
            return self._service

    def filters(self, **kw: Any) -> Any:
        text = importlib.import_module("modiste.search.text")
        return text.SearchFilters(**kw)

    def image(self, image: Any, filters: Any, k: int) -> list[Any]:
        return list(self._visual().search_image(image, filters, k))

    def similar(self, product_id: int, filters: Any, k: int) -> list[Any]:
        return list(self._visual().similar_products(product_id, filters, k))

    def text(
        self,
        query: str,
        filters: Any,
        page: int,
        per_page: int,
        sort: str = "relevance",
        facets: bool = False,
    ) -> Any:
        # Text search reads the catalog only: it must not wait for the image models to load.
        if self._text is None:
            text = optional_module("modiste.search.text", "text search")
            synonyms = optional_module("modiste.search.synonyms", "text search")
            self._text = text.TextSearch(synonyms.load_synonyms())
        with self.db.session() as session:
            return self._text.search(
                session, query, filters, page=page, per_page=per_page, sort=sort, facets=facets
            )
