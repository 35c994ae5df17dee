"""Shot taxonomy, regulations and gallery ordering (pure logic: no models imported here).

The shot classifier lives in :mod:`modiste.gallery.classifier` and is imported on its own.
"""

from modiste.gallery.metrics import order_for_labels, order_metrics
from modiste.gallery.ordering import (
    ExcludedItem,
    GalleryItem,
    OrderedGallery,
    OrderedItem,
    order_gallery,
)
from modiste.gallery.regulation import (
    CategoryOverride,
    Promotion,
    Regulation,
    Rules,
    category_matches,
    list_regulations,
    load_regulation,
    resolve_regulation,
)
from modiste.gallery.taxonomy import UNKNOWN, ShotClass, Taxonomy, load_taxonomy

__all__ = [
    "UNKNOWN",
    "CategoryOverride",
    "ExcludedItem",
    "GalleryItem",
    "OrderedGallery",
    "OrderedItem",
    "Promotion",
    "Regulation",
    "Rules",
    "ShotClass",
    "Taxonomy",
    "category_matches",
    "list_regulations",
    "load_regulation",
    "load_taxonomy",
    "order_for_labels",
    "order_gallery",
    "order_metrics",
    "resolve_regulation",
]
