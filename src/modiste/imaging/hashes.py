"""Perceptual fingerprints for duplicate detection: cheap, small, and robust to re-padding.

Plain perceptual hashes (pHash, dHash) break when a shop re-pads a photo onto a bigger canvas or
crops its edges, because the hash is taken over the whole frame. So every hash here is taken
after trimming uniform borders (the content bounding box), and each fingerprint also keeps a tiny
Lab thumbnail of the trimmed content, which :mod:`modiste.cleaning.similarity` aligns to verify
candidates (crops, watermarks, recolours). Images are decoded with JPEG DCT scaling, so a
fingerprint costs about a millisecond.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from modiste.errors import ImageDecodeError
from modiste.imaging.decode import DEFAULT_MAX_PIXELS, decode_image

THUMB = 32  # side of the stored Lab thumbnail
DECODE_SIZE = 96  # JPEG draft target: enough for a 32 px thumbnail after trimming
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class ImageFingerprint:
    """What duplicate detection keeps per image (about 3 KB).

    Attributes:
        sha256: hex digest of the file's bytes (exact duplicates).
        phash: 64-bit DCT hash of the trimmed content.
        dhash: 64-bit gradient hash of the trimmed content.
        aspect: width / height of the trimmed content.
        thumb: ``THUMB x THUMB x 3`` uint8 Lab thumbnail of the trimmed content (OpenCV scaling).
    """

    sha256: str
    phash: int
    dhash: int
    aspect: float
    thumb: np.ndarray

    def vector(self) -> np.ndarray:
        """Unit-norm layout vector for cosine kNN: a blurred, brightness-normalised thumbnail.

        Blurred to 8x8 so a 15 % crop still lands near the original; mean and scale of the
        lightness are removed so brightness changes do not move it; chroma kept so recolours do.
        """
        return layout_vector(self.thumb)


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes."""
    return (a ^ b).bit_count()


def hamming_many(query: int, hashes: np.ndarray) -> np.ndarray:
    """Hamming distances from ``query`` to a uint64 array, vectorised."""
    x = np.bitwise_xor(hashes.astype(np.uint64), np.uint64(query))
    return _POPCOUNT[x.view(np.uint8).reshape(-1, 8)].sum(axis=1)


def content_box(rgb: np.ndarray, tol: int = 18, passes: int = 2) -> tuple[int, int, int, int]:
    """Bounding box ``(x1, y1, x2, y2)`` of the content inside uniform borders.

    The border colour is the median of the outer frame; a row or column is content when more
    than 2 % of its pixels differ from it by more than ``tol``. A second pass peels a canvas
    pasted around a photo that itself has a studio background. A box under 10 % of the image is
    refused (the whole photo is nearly uniform) and the full frame is returned.
    """
    import cv2

    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = 0, 0, w, h
    for _ in range(passes):
        sub = rgb[y1:y2, x1:x2]
        sh, sw = sub.shape[:2]
        if sh < 4 or sw < 4:
            break
        frame = np.concatenate([sub[0], sub[-1], sub[:, 0], sub[:, -1]])
        bg = np.median(frame, axis=0)
        dist = cv2.absdiff(sub, (*(float(v) for v in bg), 0.0))  # type: ignore[call-overload]
        # numpy's max over a length-3 last axis is slow; an elementwise max is not.
        far = np.maximum(np.maximum(dist[:, :, 0], dist[:, :, 1]), dist[:, :, 2]) > tol
        diff = far.astype(np.float32)
        rows = np.flatnonzero(cv2.reduce(diff, 1, cv2.REDUCE_AVG).ravel() > 0.02)
        cols = np.flatnonzero(cv2.reduce(diff, 0, cv2.REDUCE_AVG).ravel() > 0.02)
        if len(rows) == 0 or len(cols) == 0:
            break
        nx1, ny1, nx2, ny2 = x1 + cols[0], y1 + rows[0], x1 + cols[-1] + 1, y1 + rows[-1] + 1
        if (nx2 - nx1) * (ny2 - ny1) < 0.1 * w * h:
            break
        if (nx1, ny1, nx2, ny2) == (x1, y1, x2, y2):
            break
        x1, y1, x2, y2 = int(nx1), int(ny1), int(nx2), int(ny2)
    return x1, y1, x2, y2


def _bits(mask: np.ndarray) -> int:
    return int.from_bytes(np.packbits(mask.ravel().astype(np.uint8)).tobytes(), "big")


def phash_gray(gray32: np.ndarray) -> int:
    """pHash of a 32x32 grey array: signs of the 8x8 low DCT band against its median."""
    import cv2

    low = cv2.dct(gray32.astype(np.float32))[:8, :8]
    return _bits(low > np.median(low))


def dhash_gray(gray: np.ndarray) -> int:
    """dHash of a 8x9 grey array: is each pixel brighter than its right neighbour."""
    return _bits(gray[:, 1:] > gray[:, :-1])


def fingerprint_image(rgb: Image.Image | np.ndarray, sha256: str = "") -> ImageFingerprint:
    """Fingerprint an RGB image (PIL or HxWx3 uint8) whose bytes hashed to ``sha256``."""
    import cv2

    arr = np.asarray(rgb, dtype=np.uint8)
    x1, y1, x2, y2 = content_box(arr)
    crop = np.ascontiguousarray(arr[y1:y2, x1:x2])
    small = cv2.resize(crop, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    gray = lab[:, :, 0]
    g9 = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA)
    return ImageFingerprint(
        sha256=sha256,
        phash=phash_gray(gray),
        dhash=dhash_gray(g9),
        aspect=(x2 - x1) / max(1, y2 - y1),
        thumb=lab,
    )


def fingerprint_file(
    source: bytes | str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageFingerprint:
    """Decode (safely, with fast DCT downscaling) and fingerprint one image."""
    name = None if isinstance(source, bytes) else str(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as e:
        raise ImageDecodeError(f"{name}: cannot read ({e.strerror or e})") from e
    decoded = decode_image(data, max_pixels=max_pixels, draft_size=DECODE_SIZE, name=name)
    return fingerprint_image(decoded.image, sha256=hashlib.sha256(data).hexdigest())


def layout_vector(thumb: np.ndarray) -> np.ndarray:
    """See :meth:`ImageFingerprint.vector`."""
    import cv2

    small = cv2.resize(thumb, (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)
    lum = small[:, :, 0]
    lum = (lum - lum.mean()) / (lum.std() + 8.0)
    chroma = (small[:, :, 1:] - 128.0) / 24.0
    vec = np.concatenate([lum.ravel(), chroma.ravel()])
    return (vec / (np.linalg.norm(vec) + 1e-6)).astype(np.float32)
