"""Perceptual hashes, border trimming, thumbnail alignment and the Hamming band index."""

from __future__ import annotations

import numpy as np
import pytest
from dedupe_helpers import altered, fp, jpeg, photo
from PIL import Image

from modiste.cleaning.hash_index import FlatCosineIndex, MultiIndexHash
from modiste.cleaning.similarity import align
from modiste.errors import ImageDecodeError, VectorIndexError
from modiste.imaging.hashes import content_box, fingerprint_file, hamming, hamming_many

ALTERATIONS = ("resize", "brightness", "crop", "repad")


def test_identical_images_have_distance_zero() -> None:
    a, b = fp(photo(1)), fp(photo(1))
    assert a.sha256 == b.sha256
    assert hamming(a.phash, b.phash) == 0 and hamming(a.dhash, b.dhash) == 0
    assert align(a, b).ncc == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("kind", ALTERATIONS)
def test_altered_copies_stay_close_and_others_far(kind: str) -> None:
    original = fp(photo(7))
    copy = fp(altered(photo(7), kind))
    others = [fp(photo(s)) for s in range(20, 26)]
    near = align(original, copy).score()
    far = max(align(original, o).score() for o in others)
    assert near > 0.9, kind
    assert near > far + 0.1, kind
    assert hamming(original.phash, copy.phash) < min(
        hamming(original.phash, o.phash) for o in others
    )


def test_low_quality_jpeg_copy_is_close() -> None:
    a, b = fp(photo(3)), fp(photo(3), quality=15)
    assert a.sha256 != b.sha256
    assert align(a, b).score() > 0.9


def test_recoloured_shot_is_not_a_copy() -> None:
    """Luma-style colour variant: same shapes, one region in another hue."""
    base = photo(5, bg=(255, 255, 255))
    arr = np.asarray(base).copy()
    region = arr[40:160, 30:130]
    arr[40:160, 30:130] = region[:, :, [2, 0, 1]]  # rotate the channels: new hues, same layout
    a, b = fp(base), fp(Image.fromarray(arr))
    assert align(a, b).score() < 0.9


def test_content_box_peels_canvas_and_studio_background() -> None:
    photo_on_white = Image.new("RGB", (100, 120), (255, 255, 255))
    photo_on_white.paste(photo(2, size=(60, 80)), (20, 25))
    canvas = Image.new("RGB", (160, 170), (200, 200, 200))
    canvas.paste(photo_on_white, (20, 25))
    x1, y1, x2, y2 = content_box(np.asarray(canvas))
    assert (x1, y1, x2, y2) == pytest.approx((40, 50, 100, 130), abs=1)


def test_uniform_image_is_not_trimmed_away() -> None:
    flat = np.full((50, 40, 3), 128, dtype=np.uint8)
    assert content_box(flat) == (0, 0, 40, 50)
    fingerprint_file(jpeg(Image.fromarray(flat)))  # no crash on a flat image


def test_fingerprint_refuses_non_images() -> None:
    with pytest.raises(ImageDecodeError):
        fingerprint_file(b"not an image")


def test_hamming_many_matches_scalar() -> None:
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, size=50, dtype=np.uint64) * 2 + 1
    q = int(hashes[0]) ^ 0b1011
    expected = [hamming(q, int(h)) for h in hashes]
    assert hamming_many(q, hashes).tolist() == expected


def test_multi_index_hash_finds_everything_within_radius_3() -> None:
    rng = np.random.default_rng(1)
    stored = [int(x) for x in rng.integers(0, 2**63, size=300, dtype=np.uint64)]
    index = MultiIndexHash()
    for h in stored:
        index.add(h)
    for q in stored[:30]:
        probe = q ^ (1 << 3) ^ (1 << 40) ^ (1 << 62)  # distance 3, touching three bands
        found = dict(index.search(probe, 3))
        brute = {i for i, h in enumerate(stored) if hamming(probe, h) <= 3}
        assert set(found) == brute
        assert found[stored.index(q)] == 3


def test_flat_cosine_index_knn_and_dimension_check() -> None:
    index = FlatCosineIndex()
    vecs = np.eye(4, dtype=np.float32)
    index.add(vecs)
    scores, pos = index.search(vecs[[2]], k=6)
    assert pos[0, 0] == 2 and scores[0, 0] == pytest.approx(1.0)
    assert (pos[0, 4:] == -1).all()  # padded past the 4 stored vectors
    with pytest.raises(VectorIndexError):
        index.add(np.ones((1, 3), dtype=np.float32))
