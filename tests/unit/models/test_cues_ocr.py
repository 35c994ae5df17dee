from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from modiste.domain import Box
from modiste.models.cues import CUE_NAMES, CueExtractor, cue_columns
from modiste.models.ocr import CROP_MARGIN, OcrLine, OcrReader, text_cues


def _cue(im: Image.Image) -> dict[str, float]:
    return dict(zip(CUE_NAMES, CueExtractor(frame=True).predict([im])[0].tolist(), strict=True))


def test_layout_cues_of_a_packshot_like_image() -> None:
    im = Image.new("RGB", (200, 300), "white")
    ImageDraw.Draw(im).rectangle([50, 100, 149, 199], fill=(20, 40, 160))
    c = _cue(im)
    assert c["border_white"] == 1.0
    assert abs(c["fg_coverage"] - (100 * 100) / (200 * 300)) < 0.02
    assert abs(c["fg_top"] - 100 / 300) < 0.02 and c["face_frontal"] == 0.0


def test_full_bleed_image_has_no_white_border() -> None:
    rng = np.random.default_rng(1)
    c = _cue(Image.fromarray(rng.integers(0, 120, (120, 90, 3), dtype=np.uint8)))
    assert c["border_white"] == 0.0 and c["fg_coverage"] > 0.95


def _fabric(rng: np.random.Generator, floor_rows: int = 0) -> Image.Image:
    """A red woven-looking surface with a straight stitch line; ``floor_rows`` of floor below."""
    arr = np.clip(np.array([150, 40, 40]) + rng.normal(0, 12, (120, 120, 3)), 0, 255)
    arr[58:60, :] = (240, 220, 60)  # the thread
    if floor_rows:
        arr[-floor_rows:] = (200, 190, 170)
    return Image.fromarray(arr.astype(np.uint8))


def test_frame_cues_tell_fabric_filling_the_frame_from_a_crop_with_an_outline() -> None:
    """Material fills the frame with one surface; a hem crop shows the floor past the edge."""
    rng = np.random.default_rng(0)
    fabric, hem = _cue(_fabric(rng)), _cue(_fabric(rng, floor_rows=45))
    assert fabric["frame_colour_max"] < 0.2 < 1.0 < hem["frame_colour_max"]
    assert fabric["frame_colour_spread"] < hem["frame_colour_spread"]
    assert fabric["frame_texture_spread"] < hem["frame_texture_spread"]
    plain = CueExtractor().predict([_fabric(rng, floor_rows=45)])[0]  # not asked for: zeros
    assert not plain[-3:].any()


def test_old_cue_sets_read_the_columns_they_were_trained_on() -> None:
    """Heads saved before the frame cues existed name ``layout`` or ``all``: same columns."""
    layout = ["white_fraction", "border_white", "fg_coverage", "fg_aspect", "fg_fill", "fg_top"]
    layout += ["fg_bottom", "skin_fraction", "edge_density", "image_aspect"]
    assert [CUE_NAMES[i] for i in cue_columns("layout")] == layout
    assert [CUE_NAMES[i] for i in cue_columns("all")][5:] == layout
    frame = [CUE_NAMES[i] for i in cue_columns("layout_frame")]
    assert frame[:10] == layout and all(n.startswith("frame_") for n in frame[10:])


def test_cue_batch_shape() -> None:
    assert CueExtractor().predict([]).shape == (0, len(CUE_NAMES))


def test_text_cues_table_rows() -> None:
    lines = [
        OcrLine(t, Box(10 + 40 * j, 20 * i, 40 + 40 * j, 20 * i + 12), 0.9)
        for i in range(4)
        for j, t in enumerate(["S", "36", "92"])
    ]
    c = text_cues(lines, 200, 100)
    assert c["ocr_lines"] == 12 and c["ocr_table_rows"] == 4 and c["ocr_digit_share"] > 0.5


def test_ocr_reader_is_lazy_and_unpacks() -> None:
    reader = OcrReader()
    assert reader._engine is None
    text, _, score = OcrLine("WASH 30", Box(0, 0, 1, 1), 0.9)
    assert text == "WASH 30" and score == 0.9


def test_detection_only_reader_maps_region_boxes_back_to_the_image() -> None:
    """Regions are cropped (at the reader's size, with a plain margin) and read on their own;
    the boxes come back in the image's own pixels, unread."""
    seen: list[tuple[int, int]] = []

    def fake_detector(bgr: np.ndarray) -> tuple[np.ndarray, float]:
        seen.append(bgr.shape[:2])
        # one line 10 px into the crop, past its margin
        m = CROP_MARGIN
        pts = [[m + 10, m + 5], [m + 50, m + 5], [m + 50, m + 15], [m + 10, m + 15]]
        return np.array([pts], dtype=np.float32), 0.0

    reader = OcrReader(max_side=500, recognize=False)
    reader._engine = fake_detector
    image = Image.new("RGB", (1000, 800), "white")
    (line,) = reader.read(image, [Box(100, 200, 1000, 400)])  # image pixels; the reader halves
    assert seen == [(100 + 2 * CROP_MARGIN, 450 + 2 * CROP_MARGIN)]
    assert line.text == "" and line.box == Box(120, 210, 200, 230)
    assert reader.read(image, []) == []  # no region: nothing to look at
