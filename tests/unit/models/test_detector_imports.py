"""The detector modules import one way: backends → garment_boxes, factory → backends.

Each module is imported alone in a fresh interpreter, so what it drags in at import time is its
own top-level imports and nothing a test imported before it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BACKENDS = ("modiste.models.detector_head", "modiste.models.yolo_onnx")
MODULES = ("modiste.models.garment_boxes", "modiste.models.detector", *BACKENDS)


def _loaded_by(module: str) -> set[str]:
    """The ``modiste.models.*`` modules that importing ``module`` alone loads."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('modiste.models.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("module", MODULES)
def test_imports_alone_without_a_cycle(module: str) -> None:
    loaded = _loaded_by(module)
    assert module in loaded
    if module in BACKENDS:
        # A backend needs the shared box helpers, not the factory that picks a backend.
        assert "modiste.models.detector" not in loaded
        assert not (set(BACKENDS) - {module}) & loaded  # nor the other backend
    if module == "modiste.models.garment_boxes":
        assert loaded == {module}
    if module == "modiste.models.detector":
        assert not set(BACKENDS) & loaded  # backends load when the factory builds one


def test_shared_names_still_importable_from_detector() -> None:
    from modiste.models import detector, garment_boxes

    for name in ("DEFAULT_CLASSES", "Letterbox", "letterbox", "nms_per_class", "to_garments"):
        assert getattr(detector, name) is getattr(garment_boxes, name)
