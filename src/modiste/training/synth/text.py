"""Words and fonts for rendered labels and charts.

Fibre and part names come from the care parser's own vocabulary
(``cleaning/data/care_vocab.json``), so a rendered label says what real labels say. Only Latin
spellings are drawn: the fonts at hand (DejaVu and STIX, shipped with matplotlib) have no CJK
glyphs, so Japanese and Chinese lines are left out rather than drawn as empty boxes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import ImageFont

LANGS = ("en", "fr", "de", "es", "it")
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
)
CARE_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("Machine wash {t}°C", "Do not bleach", "Do not tumble dry", "Iron low", "Dry flat"),
    "fr": (
        "Lavage en machine {t}°C",
        "Ne pas blanchir",
        "Pas de sèche-linge",
        "Repassage doux",
        "Séchage à plat",
    ),
    "de": (
        "Maschinenwäsche {t}°C",
        "Nicht bleichen",
        "Nicht im Trockner",
        "Bügeln niedrig",
        "Liegend trocknen",
    ),
    "es": ("Lavar a máquina {t}°C", "No usar lejía", "No secar en secadora", "Planchar bajo"),
    "it": ("Lavare in lavatrice {t}°C", "Non candeggiare", "Non asciugare in asciugatrice"),
}
MADE_IN = {
    "en": "Made in {c}",
    "fr": "Fabriqué en {c}",
    "de": "Hergestellt in {c}",
    "es": "Hecho en {c}",
    "it": "Fatto in {c}",
}
COUNTRIES = ("Portugal", "Italy", "Turkey", "India", "China", "Bangladesh", "Vietnam", "Romania")
CHART_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Size guide",
        "size": "Size",
        "chest": "Chest",
        "waist": "Waist",
        "hips": "Hips",
        "length": "Length",
        "sleeve": "Sleeve",
        "inseam": "Inseam",
    },
    "fr": {
        "title": "Guide des tailles",
        "size": "Taille",
        "chest": "Poitrine",
        "waist": "Tour de taille",
        "hips": "Hanches",
        "length": "Longueur",
        "sleeve": "Manche",
        "inseam": "Entrejambe",
    },
    "de": {
        "title": "Größentabelle",
        "size": "Größe",
        "chest": "Brustumfang",
        "waist": "Taillenumfang",
        "hips": "Hüftumfang",
        "length": "Länge",
        "sleeve": "Ärmellänge",
        "inseam": "Innenbein",
    },
    "es": {
        "title": "Guía de tallas",
        "size": "Talla",
        "chest": "Pecho",
        "waist": "Cintura",
        "hips": "Cadera",
        "length": "Largo",
        "sleeve": "Manga",
        "inseam": "Entrepierna",
    },
    "it": {
        "title": "Tabella taglie",
        "size": "Taglia",
        "chest": "Torace",
        "waist": "Vita",
        "hips": "Fianchi",
        "length": "Lunghezza",
        "sleeve": "Manica",
        "inseam": "Interno gamba",
    },
}


def _latin(word: str) -> bool:
    return all(ord(ch) < 0x250 for ch in word)


@lru_cache(maxsize=1)
def vocabulary() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Drawable fibre and part spellings (Latin, not the two-letter codes) from the care vocab."""
    raw = json.loads(
        resources.files("modiste.cleaning").joinpath("data/care_vocab.json").read_text("utf-8")
    )

    def keep(table: dict[str, list[str]]) -> dict[str, list[str]]:
        out = {k: [w for w in v if _latin(w) and len(w) > 3] for k, v in table.items()}
        return {k: v for k, v in out.items() if v}

    return keep(raw["fibres"]), keep(raw["parts"])


@lru_cache(maxsize=1)
def font_paths() -> tuple[Path, ...]:
    """The TrueType fonts matplotlib ships (a dependency, so present wherever Modiste runs)."""
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(root / f for f in FONT_FILES if (root / f).is_file())


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def font(rng: np.random.Generator, size: float, bold: bool | None = None) -> ImageFont.FreeTypeFont:
    """A random font at ``size`` px (bold, regular, or either when ``bold`` is None)."""
    paths = font_paths()
    if bold is not None:
        paths = tuple(p for p in paths if ("Bol" in p.name) == bold) or paths
    return _font(paths[int(rng.integers(len(paths)))], max(6, int(size)))


def resized(f: ImageFont.FreeTypeFont, size: float) -> ImageFont.FreeTypeFont:
    """The same typeface at another size (one label or chart keeps one typeface)."""
    return _font(Path(str(f.path)), max(6, int(size)))


def styled(word: str, rng: np.random.Generator) -> str:
    """Label typography: UPPER, Title or lower case."""
    k = int(rng.integers(3))
    return word.upper() if k == 0 else (word.title() if k == 1 else word)


def composition(rng: np.random.Generator) -> list[tuple[int, str]]:
    """One to three fibres with percentages summing to 100 (canonical fibre names)."""
    fibres, _ = vocabulary()
    names = sorted(fibres)
    n = int(rng.choice([1, 2, 2, 3]))
    chosen = [names[i] for i in rng.choice(len(names), n, replace=False)]
    if n == 1:
        return [(100, chosen[0])]
    cuts = sorted(int(v) for v in rng.choice(np.arange(5, 100, 5), n - 1, replace=False))
    parts = np.diff([0, *cuts, 100])
    return sorted(zip((int(p) for p in parts), chosen, strict=True), reverse=True)


def spelling(fibre: str, rng: np.random.Generator) -> str:
    """One drawable spelling of a canonical fibre name (a random language)."""
    words = vocabulary()[0][fibre]
    return words[int(rng.integers(len(words)))]
