"""Crop → vector for visual search: backbone features and foreground colour, in one unit vector.

The vector is ``[a * l2(P · l2(cnn)), b * colour, s * category]`` re-normalised, where ``P`` is an
optional learned linear projection (``modiste train embedder``), ``colour`` the Hellinger colour
histogram and ``category`` the square root of a category head's probabilities (only when the
trained file has heads). Every block is a unit vector, so a dot product is
``a² cos_cnn + b_q b_c cos_colour + s_q s_c BC_category`` (up to the catalog vector's norm, the
same for every catalog vector), so the weights read as the share each signal gets, and a query may
use other weights than the catalog it searches (:data:`USES`) without reindexing. Why this recipe
and these weights: docs/decisions/embeddings.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.errors import ModelError
from modiste.models.category_head import DOMAINS, CategoryHead
from modiste.models.colour import ColourConfig, colour_histograms, crop_foreground

if TYPE_CHECKING:
    from PIL import Image

    from modiste.config import Settings
    from modiste.models.embedder import Embedder

log = logging.getLogger(__name__)
# What a vector is for: "catalog" (what the index stores), "photo" (a garment cut from a shopper's
# street photo, searched against the catalog) and "similar" (a catalog crop as a "more like this"
# query: same-item search, where the category block is left out of the query's side).
USES = ("catalog", "photo", "similar")


@dataclass(frozen=True)
class CropRecipe:
    """Everything that changes the numbers of a crop vector (stored beside a projection).

    Attributes:
        backbone: Registry name of the feature backbone.
        pooling: How its last feature map is pooled (see :mod:`modiste.models.pooling`).
        crop: Cut studio photos to their foreground box before the CNN (the garment fills the
            input instead of white margin).
        square: Pad to a square with white before resizing (the preprocess squashes otherwise).
        colour: Colour histogram settings.
        cnn_weight, colour_weight: Block weights of the concatenation (catalog vectors).
        category_weight: Weight of the category block of catalog vectors (1: a unit block whose
            scale the query side sets; ignored without category heads).
        photo_colour_weight, photo_category_weight: Query-side weights of street-photo crops
            (None: the catalog's). Chosen on a validation split by ``train embedder``.
    """

    backbone: str = "mobilenet_v2"
    pooling: str = "gem"
    crop: bool = True
    square: bool = True
    colour: ColourConfig = field(default_factory=ColourConfig)
    cnn_weight: float = 1.0
    colour_weight: float = 1.5
    category_weight: float = 1.0
    photo_colour_weight: float | None = None
    photo_category_weight: float | None = None

    def weights(self, use: str) -> tuple[float, float]:
        """(colour, category) block weights of a vector made for ``use`` (one of :data:`USES`)."""
        if use == "catalog":
            return self.colour_weight, self.category_weight
        if use == "similar":
            return self.colour_weight, 0.0
        if use == "photo":
            pc, ps = self.photo_colour_weight, self.photo_category_weight
            return (
                self.colour_weight if pc is None else pc,
                self.category_weight if ps is None else ps,
            )
        raise ModelError(f"unknown embedding use {use!r}; valid: {', '.join(USES)}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CropRecipe:
        data = json.loads(text)
        data["colour"] = ColourConfig(**data.get("colour", {}))
        return cls(**data)


@dataclass(frozen=True)
class Projection:
    """A linear map of L2-normalised backbone features, learned with metric learning.

    ``heads`` holds the optional category heads, one per domain (``catalog``, ``photo``).
    """

    weight: np.ndarray  # (in_dim, out_dim)
    recipe: CropRecipe
    meta: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, CategoryHead] = field(default_factory=dict)

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32) @ self.weight.astype(np.float32)

    def save(self, path: Path) -> Path:
        """float16 ``.npz`` (small enough to ship in the package)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "weight": self.weight.astype(np.float16),
            "recipe": np.asarray(self.recipe.to_json()),
            "meta": np.asarray(json.dumps(self.meta, sort_keys=True)),
        }
        for domain, head in self.heads.items():
            arrays.update(head.to_arrays(f"head_{domain}_"))
        with path.open("wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, path: Path) -> Projection:
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            heads = {d: CategoryHead.from_arrays(arrays, f"head_{d}_") for d in DOMAINS}
            return cls(
                weight=np.asarray(arrays["weight"], dtype=np.float32),
                recipe=CropRecipe.from_json(str(arrays["recipe"])),
                meta=json.loads(str(arrays["meta"])),
                heads={d: h for d, h in heads.items() if h is not None},
            )
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise ModelError(f"cannot load embedder projection {path}: {e}") from e


def l2n(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# Larger than any model input: a crop over this is shrunk before padding, so a 30000x10 strip is
# not padded to a 30000x30000 canvas (2.7 GB) only to be resized to 224 px.
PAD_MAX_SIDE = 2048


def pad_square(
    image: Image.Image,
    fill: tuple[int, int, int] = (255, 255, 255),
    max_side: int = PAD_MAX_SIDE,
) -> Image.Image:
    """Centre ``image`` on a square canvas so resizing keeps the garment's shape."""
    from PIL import Image as PILImage

    if image.width == image.height:
        return image
    if max(image.width, image.height) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), PILImage.Resampling.BILINEAR)
    side = max(image.width, image.height)
    canvas = PILImage.new("RGB", (side, side), fill)
    canvas.paste(image.convert("RGB"), ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


class CropEmbedder:
    """Unit vectors for garment crops (or whole photos), comparable by dot product."""

    def __init__(
        self,
        features: Embedder,
        recipe: CropRecipe | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.features = features
        self.recipe = recipe or (projection.recipe if projection else CropRecipe())
        self.projection = projection
        if projection is not None and projection.weight.shape[0] != features.dim:
            raise ModelError(
                f"projection expects {projection.weight.shape[0]} features, "
                f"{features.backbone.name} gives {features.dim}"
            )

    @property
    def cnn_dim(self) -> int:
        return self.projection.out_dim if self.projection else self.features.dim

    @property
    def heads(self) -> dict[str, CategoryHead]:
        return self.projection.heads if self.projection else {}

    @property
    def category_dim(self) -> int:
        head = self.heads.get("catalog")
        return len(head.labels) if head else 0

    @property
    def dim(self) -> int:
        return self.cnn_dim + self.recipe.colour.dim + self.category_dim

    @property
    def name(self) -> str:
        """Identifies the embedding space (what an index built with it is valid for)."""
        proj = self.projection.meta.get("sha", "trained") if self.projection else "none"
        return f"{self.features.key}|{self.recipe.to_json()}|proj={proj}"

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        """The CNN's view of each image: foreground crop and square padding per the recipe."""
        out = []
        for im in images:
            im = im.convert("RGB") if im.mode != "RGB" else im
            if self.recipe.crop:
                im = crop_foreground(im, self.recipe.colour.white)
            out.append(pad_square(im) if self.recipe.square else im)
        return out

    def cnn_features(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Raw pooled backbone features (before normalisation and projection)."""
        return self.features.predict(self.prepare(images))

    def colour_features(self, images: Sequence[Image.Image]) -> np.ndarray:
        return colour_histograms(list(images), self.recipe.colour)

    def combine(
        self,
        cnn: np.ndarray,
        colour: np.ndarray,
        colour_weight: float | None = None,
        use: str = "catalog",
    ) -> np.ndarray:
        """Final vectors for ``use`` from cached parts; ``colour_weight`` overrides the recipe's."""
        z = l2n(cnn)
        cw, sw = self.recipe.weights(use)
        cw = cw if colour_weight is None else colour_weight
        blocks = [self.recipe.cnn_weight * (l2n(self.projection(z)) if self.projection else z)]
        blocks.append(cw * l2n(colour))
        if self.category_dim:
            head = self.heads.get("photo" if use == "photo" else "catalog", self.heads["catalog"])
            blocks.append(sw * head.block(z))
        return l2n(np.hstack(blocks))

    def embed(self, images: Sequence[Image.Image], use: str = "catalog") -> np.ndarray:
        """(N, dim) float32 unit vectors made for ``use`` (one of :data:`USES`)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.combine(self.cnn_features(images), self.colour_features(images), use=use)

    def with_recipe(self, **changes: Any) -> CropEmbedder:
        """The same backbone with some recipe fields changed (ablations, query-time weights)."""
        return CropEmbedder(self.features, replace(self.recipe, **changes), self.projection)


def projection_name(backbone: str) -> str:
    safe = backbone.replace(":", "_").replace("/", "_").replace("@", "_")
    return f"embedder_{safe}.npz"


def default_projection_path(settings: Settings) -> Path | None:
    """DATA_DIR/models first (a user's own training), then the file shipped in the package."""
    name = projection_name(settings.backbone)
    local = settings.model_dir / name
    if local.is_file():
        return local
    packaged = Path(__file__).resolve().parent / "weights" / name
    return packaged if packaged.is_file() else None


def create_crop_embedder(
    settings: Settings,
    projection: Path | str | None = "default",
    recipe: CropRecipe | None = None,
    runtime: str = "onnx",
    lanes: int = 1,
) -> CropEmbedder:
    """The crop embedder for ``settings.backbone``.

    Args:
        settings: Backbone name, model and cache folders.
        projection: ``"default"`` (trained file if one exists), a ``.npz`` path, or None (none).
        recipe: Overrides the recipe (else the projection's, else the default).
        runtime: ``"onnx"`` (fast inference) or ``"torch"``.
        lanes: Batches run at once, each on a one-thread session (a batch job's
            :func:`~modiste.models.onnx_runtime.ingest_lanes`); 1 for queries.

    Raises:
        ModelError: Missing backbone weights or an unreadable or mismatched projection.
    """
    from modiste.models.embedder import Embedder

    path = default_projection_path(settings) if projection == "default" else projection
    proj = Projection.load(Path(path)) if path else None
    rec = recipe or (proj.recipe if proj else CropRecipe(backbone=settings.backbone))
    if proj is not None and proj.recipe.backbone != rec.backbone:
        raise ModelError(f"projection {path} was trained on {proj.recipe.backbone}")
    # float32 whatever Settings.inference_precision says: the vectors stay in the index, and
    # bfloat16 ones moved the Magento held-out R@10 by 0.021 (ingest-and-storage.md, step 11)
    features = Embedder.from_settings(
        settings, backbone=rec.backbone, pooling=rec.pooling, runtime=runtime, lanes=lanes
    )
    log.info("crop embedder %s (projection: %s)", rec.backbone, path or "none")
    return CropEmbedder(features, rec, proj)
