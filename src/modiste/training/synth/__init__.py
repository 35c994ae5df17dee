"""Shot-training photos generated from real ones: labels and charts rendered and composited on
real fabric, detail close-ups cut from real garment photos (docs/decisions/shot-generators.md).

``modiste train shots-synth`` writes a gallery CSV that ``modiste train shots --extra`` reads.
"""

from modiste.training.synth.generate import (
    CLASSES,
    SynthImage,
    contact_sheets,
    generate_one,
    write_dataset,
)
from modiste.training.synth.sources import SourcePool

__all__ = ["CLASSES", "SourcePool", "SynthImage", "contact_sheets", "generate_one", "write_dataset"]
