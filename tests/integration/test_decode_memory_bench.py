"""A tiny run of ``python -m benchmarks.decode_memory``: the script works end to end and its
figures hold at small sizes (the real run and its numbers: benchmarks/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import decode_memory


@pytest.mark.slow
def test_decode_memory_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "decode_memory.json"
    decode_memory.main(
        [
            "--side", "400",
            "--files", "2",
            "--only", "png_16bit_grey",
            "--only", "png_header_bomb_100k",
            "--store-images", "2",
            "--posts", "2",
            "--post-mb", "2",
            "--json", str(out),
        ]
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert set(report["images"]) == {"png_16bit_grey", "png_header_bomb_100k"}
    bomb = report["images"]["png_header_bomb_100k"]["full"]["outcome"]
    assert bomb.startswith("ImageDecodeError")
    assert "-> 400x400" in report["images"]["png_16bit_grey"]["full"]["outcome"]
    assert 0 <= report["worst_image_peak_mb"] < decode_memory.LIMIT_MB
    assert report["gallery_sort"]["2_files"]["status"] == 200
    assert report["posts_without_key"]["statuses"] == ["401"]
    assert report["store_stage"]["stored"] == 2


def test_hostile_images_are_built_by_code() -> None:
    builders = decode_memory.hostile_images(64)
    assert {"png_16bit_grey", "gif_animated", "webp_animated", "jpeg_cmyk", "png_icc_bomb"} <= set(
        builders
    )
    assert decode_memory.hostile_images(64)["png_1x1"]()[:4] == b"\x89PNG"
