"""The shipped detector head: targets decode back to their boxes, weights round-trip, predict."""

from __future__ import annotations

import copy
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modiste.errors import ConfigError, ModelError
from modiste.evaluation.detection import DetectionItem
from modiste.models.detector import GarmentDetector, letterbox
from modiste.models.detector_head import (
    CenterNetDetector,
    HeadConfig,
    build_head,
    decode,
    ensemble,
    load_head,
    save_head,
)
from modiste.models.registry import create_backbone
from modiste.training.detector import (
    DetectorTrainConfig,
    build_targets,
    cache_rows,
    focal_loss,
    giou_loss,
    split_items,
    split_positions,
    train_head,
    write_image_list,
)

CFG = HeadConfig(classes=("top", "footwear", "hat"), input_width=64, input_height=96, width=16)


def _item(boxes: list[list[float]], labels: list[str]) -> DetectionItem:
    return DetectionItem(Path("x.jpg"), np.asarray(boxes, float), labels)


def test_targets_decode_back_to_the_boxes() -> None:
    # A 128 x 192 image letterboxed into 64 x 96 (scale 0.5, no padding).
    _, lb = letterbox(Image.new("RGB", (128, 192)), CFG.input_width, CFG.input_height)
    item = _item(
        [[10, 20, 100, 90], [30, 150, 90, 190], [40, 0, 80, 25]], ["top", "footwear", "hat"]
    )
    heat, size, offset, mask = build_targets([item], [lb], CFG)
    assert heat.shape == (1, 3, 6, 4) and mask.sum() == 3 and heat.max() == 1.0
    logits = torch.from_numpy(np.where(heat == 1, 10.0, -10.0).astype(np.float32))
    ((boxes, _, labels),) = decode(
        logits, torch.from_numpy(size), torch.from_numpy(offset), CFG.stride, 0.5
    )
    got = {CFG.classes[k]: b for k, b in zip(labels, lb.to_image(boxes), strict=True)}
    assert set(got) == {"top", "footwear", "hat"}
    for box, label in zip(item.boxes, item.labels, strict=True):
        np.testing.assert_allclose(got[label], box, atol=1e-3)


def test_dense_targets_teach_the_box_around_its_centre_too() -> None:
    # 64 x 96 image, no scaling: a 48 x 80 top centred at (32, 48), i.e. cell (2, 3) + 0.0.
    _, lb = letterbox(Image.new("RGB", (64, 96)), CFG.input_width, CFG.input_height)
    item = _item([[8, 8, 56, 88]], ["top"])
    _, size, offset, centre_only = build_targets([item], [lb], CFG)
    heat, dense_size, dense_offset, weight = build_targets([item], [lb], CFG, dense=0.2)
    k = CFG.classes.index("top")
    assert centre_only[0, k].sum() == 1 and weight[0, k, 3, 2] == 1.0
    around = (weight[0, k] > 0) & (weight[0, k] < 1)
    assert around.sum() >= 4 and (weight[0, k][around] >= 0.2).all()
    np.testing.assert_allclose(weight[0, k][around], heat[0, k][around])  # weighted by the Gaussian
    # the same size everywhere, and each cell's offset points at the true centre
    np.testing.assert_allclose(dense_size[0, k, :, 2, 2], size[0, k, :, 3, 2])  # the cell above
    ys, xs = np.nonzero(weight[0, k])
    np.testing.assert_allclose(xs + dense_offset[0, k, 0, ys, xs], 32 / CFG.stride)
    np.testing.assert_allclose(ys + dense_offset[0, k, 1, ys, xs], 48 / CFG.stride)
    assert (dense_offset[0, k, :, 3, 2] == offset[0, k, :, 3, 2]).all()


def test_weights_round_trip_and_stay_small(tmp_path: Path) -> None:
    head = build_head(CFG)
    path = tmp_path / "h.npz"
    save_head(path, head, CFG)
    loaded, cfg = load_head(path)
    assert cfg.classes == CFG.classes and cfg.input_height == 96
    f16, f32 = torch.randn(2, 96, 6, 4), torch.randn(2, 320, 3, 2)
    with torch.inference_mode():
        a, b = head.eval()(f16, f32), loaded(f16, f32)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=0.05, rtol=0.01)  # float16 storage
    assert path.stat().st_size < 200_000


def test_tuned_blocks_are_stored_as_int8_and_older_float16_files_still_load(
    tmp_path: Path,
) -> None:
    import json

    backbone = create_backbone("mobilenet_v2", pretrained=False)
    head = build_head(TUNED, backbone.module).eval()
    save_head(tmp_path / "new.npz", head, TUNED)
    with np.load(tmp_path / "new.npz") as data:
        quantized = {k[2:] for k in data.files if k.startswith("q:")}
        assert quantized and all(k.startswith(("mid.", "high.")) for k in quantized)
        assert all(data[f"q:{k}"].dtype == np.int8 for k in quantized)
    # A format-1 file: every array float16 under "p:".
    state = {f"p:{k}": v.numpy().astype(np.float16) for k, v in head.state_dict().items()}
    meta = {**asdict(TUNED), "classes": list(TUNED.classes), "format_version": 1}
    np.savez(tmp_path / "old.npz", meta=np.array(json.dumps(meta)), **state)
    f16 = torch.randn(2, 64, 6, 4)
    with torch.inference_mode():
        want = head(f16)
        for name in ("new.npz", "old.npz"):
            loaded, _ = load_head(tmp_path / name)
            for x, y in zip(want, loaded(f16), strict=True):
                torch.testing.assert_close(x, y, atol=0.05, rtol=0.01)


def test_detector_predicts_boxes_inside_each_image() -> None:
    # An untrained head's heatmap is nearly flat, so its peaks may fall anywhere, the letterbox
    # padding included (masked in decode: see the next test); seeded for a reproducible run.
    torch.manual_seed(0)
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    det = CenterNetDetector(build_head(CFG), CFG, backbone, min_score=0.0)
    assert isinstance(det, GarmentDetector)
    images = [Image.new("RGB", (50, 80), "white"), Image.new("RGB", (120, 60), "blue")]
    out = det.predict(images)
    assert len(out) == 2
    for im, garments in zip(images, out, strict=True):
        assert garments, "min_score 0 keeps every peak"
        for g in garments:
            assert g.label in CFG.classes
            assert 0 <= g.box.x1 < g.box.x2 <= im.width and 0 <= g.box.y1 < g.box.y2 <= im.height


def test_decode_skips_peaks_in_the_letterbox_padding() -> None:
    # One class, a 4x4 grid of 8-px cells; the image fills only the left half of the input.
    heat = torch.full((1, 1, 4, 4), -8.0)
    heat[0, 0, 1, 3] = 5.0  # strongest peak, in the padding
    heat[0, 0, 2, 0] = 2.0  # weaker peak, on the image
    size, offset = torch.zeros(1, 2, 4, 4), torch.full((1, 2, 4, 4), 0.5)
    ((boxes, scores, _),) = decode(heat, size, offset, 8, min_score=0.1, per_class=1)
    assert boxes[0, 0] == pytest.approx(3.5 * 8 - 4)  # without a content box: the padding peak
    ((boxes, scores, _),) = decode(
        heat, size, offset, 8, min_score=0.1, per_class=1, content=[(0.0, 0.0, 16.0, 32.0)]
    )
    assert len(boxes) == 1 and boxes[0, 0] == pytest.approx(0.5 * 8 - 4)
    assert scores[0] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())


def test_focal_loss_prefers_the_right_heatmap() -> None:
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1, 2] = 1.0
    good = torch.full((1, 1, 4, 4), -6.0)
    good[0, 0, 1, 2] = 6.0
    assert float(focal_loss(good, target)) < float(focal_loss(-good, target))


def test_giou_loss_scores_the_box_a_cell_reads_by_its_overlap() -> None:
    # one taught cell (weight 1) and one untaught (weight 0), boxes in cells: log size, offset
    size_t = torch.zeros(1, 1, 2, 1, 2)
    size_t[..., 0] = np.log(2.0)  # a 2x2 box centred on the cell's corner
    offset_t = torch.zeros(1, 1, 2, 1, 2)
    weight = torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 1, 2)
    assert float(giou_loss(size_t, offset_t, size_t, offset_t, weight)) == pytest.approx(0.0)
    moved = offset_t.clone()
    moved[0, 0, 0, 0, 0] = 1.0  # half a box width to the right: IoU 2/6, hull = union
    assert float(giou_loss(size_t, moved, size_t, offset_t, weight)) == pytest.approx(2 / 3)
    # disjoint boxes are still told apart by how far apart they are (the hull term)
    near, far = offset_t.clone(), offset_t.clone()
    near[0, 0, 0, 0, 0], far[0, 0, 0, 0, 0] = 3.0, 6.0
    loss_near = float(giou_loss(size_t, near, size_t, offset_t, weight))
    assert 1.0 < loss_near < float(giou_loss(size_t, far, size_t, offset_t, weight))
    # a cell of weight 0 teaches nothing, however wrong its box
    wild = size_t.clone().requires_grad_(True)
    giou_loss(
        wild + 5 * torch.tensor([0.0, 1.0]).reshape(1, 1, 1, 1, 2),
        offset_t,
        size_t,
        offset_t,
        weight,
    ).backward()
    assert wild.grad is not None and float(wild.grad[..., 1].abs().sum()) == 0.0


def test_head_learns_a_fixed_layout_from_features() -> None:
    # Synthetic "features": class 0 sits where channel 0 lights up; the head must find it.
    rng = np.random.default_rng(0)
    n = 16
    f16 = rng.normal(size=(n, 96, 6, 4)).astype(np.float16) * 0.1
    items = []
    _, lb = letterbox(Image.new("RGB", (64, 96)), 64, 96)
    for i in range(n):
        gy, gx = i % 6, (i // 6) % 4
        f16[i, 0, gy, gx] = 3.0
        cx, cy = gx * 16 + 8, gy * 16 + 8
        items.append(_item([[cx - 12, cy - 12, cx + 12, cy + 12]], ["top"]))
    f32 = np.zeros((n, 320, 3, 2), np.float16)
    targets = build_targets(items, [lb] * n, CFG)
    tc = DetectorTrainConfig(epochs=20, batch_size=4, lr=1e-2, feature_dropout=0.0)
    head, history = train_head(f16, f32, targets, CFG, tc)
    assert history[-1]["loss"] < history[0]["loss"] / 2
    with torch.inference_mode():
        heat, _, _ = head(torch.from_numpy(f16).float(), torch.from_numpy(f32).float())
    found = heat[:, 0].flatten(1).argmax(1).numpy()
    truth = np.array([(i % 6) * 4 + (i // 6) % 4 for i in range(n)])
    assert (found == truth).mean() >= 0.5  # chance: 1 in 24


def test_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    items = [DetectionItem(tmp_path / f"{i}.jpg", np.zeros((0, 4))) for i in range(20)]
    train, held = split_items(items, 0.3, seed=0)
    _, held2 = split_items(list(reversed(items)), 0.3, seed=0)
    assert [i.path for i in held] == [i.path for i in held2] and len(held) == 6
    assert not {i.path for i in train} & {i.path for i in held}
    csv_path = write_image_list(held, tmp_path / "lists" / "held.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "image_path,annotated" and lines[1].startswith("../")


@pytest.mark.parametrize("bad", [b"", b"not a zip"])
def test_bad_weights_file_is_a_model_error(tmp_path: Path, bad: bytes) -> None:
    from modiste.errors import ModelError

    path = tmp_path / "h.npz"
    path.write_bytes(bad)
    with pytest.raises(ModelError):
        load_head(path)


def test_shift_moves_maps_without_wrapping() -> None:
    from modiste.training.detector import _shift

    t = torch.arange(12.0).view(1, 3, 4)
    assert _shift(t, 1, -1).tolist() == [[[0, 0, 0, 0], [1, 2, 3, 0], [5, 6, 7, 0]]]
    assert torch.equal(_shift(t, 0, 0), t)


TUNED = HeadConfig(
    classes=("top", "footwear"), input_width=64, input_height=96, width=16, tune_from=11, tta=True
)


def test_tuned_blocks_start_from_the_backbone_and_round_trip(tmp_path: Path) -> None:
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    head = build_head(TUNED, backbone.module)
    blocks = list(backbone.module.children())
    torch.testing.assert_close(head.mid[0].state_dict(), blocks[11].state_dict())
    torch.testing.assert_close(head.high[0].state_dict(), blocks[14].state_dict())
    path = tmp_path / "tuned.npz"
    save_head(path, head, TUNED)
    loaded, cfg = load_head(path)
    assert cfg.tune_from == 11 and cfg.tta
    f16 = torch.randn(2, 64, 6, 4)  # blocks [0, 11) end with 64 channels
    with torch.inference_mode():
        a, b = head.eval()(f16), loaded(f16)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=0.05, rtol=0.01)


def test_tuned_blocks_train_from_stride16_maps_only() -> None:
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    rng = np.random.default_rng(0)
    f16 = rng.normal(size=(8, 64, 6, 4)).astype(np.float16)
    _, lb = letterbox(Image.new("RGB", (64, 96)), 64, 96)
    items = [_item([[8, 8, 40, 40]], ["top"]) for _ in range(8)]
    targets = build_targets(items, [lb] * 8, TUNED)
    before = [p.detach().clone() for p in build_head(TUNED, backbone.module).high.parameters()]
    tc = DetectorTrainConfig(epochs=3, batch_size=4, shift_cells=1, tune_lr=1e-2)
    head, history = train_head(f16, None, targets, TUNED, tc, backbone=backbone.module)
    after = list(head.high.parameters())
    assert len(history) == 3 and np.isfinite(history[-1]["loss"])
    assert any(not torch.equal(x, y) for x, y in zip(before, after, strict=True))


def test_tags_of_unannotated_photos_teach_which_classes_fire() -> None:
    # Strong boxes only ever show "top"; tagged photos say "footwear", never "top". The tag loss
    # must raise footwear's highest logit on the tagged maps above an untagged run's.
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    rng = np.random.default_rng(0)
    f16 = rng.normal(size=(8, 64, 6, 4)).astype(np.float16)
    weak_maps = rng.normal(size=(8, 64, 6, 4)).astype(np.float16)
    present = np.tile(np.array([[0.0, 1.0]], np.float32), (8, 1))
    _, lb = letterbox(Image.new("RGB", (64, 96)), 64, 96)
    targets = build_targets([_item([[8, 8, 40, 40]], ["top"])] * 8, [lb] * 8, TUNED)
    tc = DetectorTrainConfig(
        epochs=20, batch_size=4, weak_batch=4, tag_weight=2.0, lr=3e-2, tune_lr=1e-2
    )
    top_logits = []
    for weak in (None, (weak_maps, present)):
        head, history = train_head(
            f16, None, targets, TUNED, tc, backbone=backbone.module, weak=weak
        )
        assert np.isfinite(history[-1]["loss"])
        with torch.inference_mode():
            heat, _, _ = head(torch.from_numpy(weak_maps).float())
        top_logits.append(heat.flatten(2).amax(2).mean(0))
    plain, tagged = top_logits
    assert tagged[1] > plain[1] + 1.0 and tagged[0] < plain[0] - 1.0


def test_an_ensemble_averages_its_members_and_round_trips(tmp_path: Path) -> None:
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    single = build_head(TUNED, backbone.module).eval()
    twice = ensemble([single, copy.deepcopy(single)]).eval()
    f16 = torch.randn(2, 64, 6, 4)
    with torch.inference_mode():
        for x, y in zip(single(f16), twice(f16), strict=True):
            torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4)  # same members: same output
    cfg = replace(TUNED, members=2)
    mixed = ensemble([single, build_head(TUNED, backbone.module)]).eval()
    save_head(tmp_path / "e.npz", mixed, cfg)
    loaded, got = load_head(tmp_path / "e.npz")
    assert got.members == 2
    with torch.inference_mode():
        for x, y in zip(mixed(f16), loaded(f16), strict=True):
            torch.testing.assert_close(x, y, atol=0.05, rtol=0.01)  # float16 storage
    kw = {"min_score": 0.0, "onnx_dir": tmp_path / "onnx", "key": "e"}
    image = [Image.new("RGB", (64, 96), "olive")]
    fast = CenterNetDetector(loaded, got, backbone, runtime="onnx", **kw).predict(image)
    slow = CenterNetDetector(loaded, got, backbone, runtime="torch", **kw).predict(image)
    assert [g.label for g in fast[0]] == [g.label for g in slow[0]] and fast[0]


def test_validation_split_is_carved_from_training_positions() -> None:
    kept, aside = split_positions(10, 0.2, seed=0)
    assert len(aside) == 2 and sorted(kept + aside) == list(range(10))
    assert split_positions(10, 0.2, seed=0) == (kept, aside)
    assert cache_rows([1, 3], 10).tolist() == [1, 3, 11, 13]  # each image, then its mirror


def test_mirror_tta_predicts_boxes_and_averages_the_flipped_heatmap() -> None:
    from modiste.models.detector_head import mirror_average

    backbone = create_backbone("mobilenet_v2", pretrained=False)
    det = CenterNetDetector(build_head(TUNED, backbone.module), TUNED, backbone, min_score=0.0)
    image = Image.new("RGB", (64, 96), "white")
    (garments,) = det.predict([image])
    assert garments and all(0 <= g.box.x1 < g.box.x2 <= 64 for g in garments)
    heat = torch.randn(1, 2, 6, 4)
    same = mirror_average(heat, torch.flip(heat, [3]))
    torch.testing.assert_close(same, heat, atol=1e-4, rtol=1e-4)


def test_feature_cache_for_a_tuned_head_keeps_the_map_before_the_tuned_blocks(
    tmp_path: Path,
) -> None:
    from modiste.training.detector import extract_features

    backbone = create_backbone("mobilenet_v2", pretrained=False)
    paths = []
    for i, colour in enumerate(["red", "navy"]):
        paths.append(tmp_path / f"{i}.jpg")
        Image.new("RGB", (64, 96), colour).save(paths[-1])
    items = [DetectionItem(p, np.zeros((0, 4))) for p in paths]
    f16, f32, lbs = extract_features(items, backbone, TUNED, tmp_path / "cache", mirror=True)
    assert f16.shape == (4, 64, 6, 4) and f32.shape[:2] == (4, 0) and len(lbs) == 4
    again, _, _ = extract_features(items, backbone, TUNED, tmp_path / "cache", mirror=True)
    np.testing.assert_array_equal(np.asarray(again), f16)  # read back from the cache


def test_onnx_runtime_matches_pytorch_and_caches_its_export(tmp_path: Path) -> None:
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    head = build_head(TUNED, backbone.module)
    images = [Image.new("RGB", (64, 96), "white"), Image.new("RGB", (90, 70), "teal")]
    kw = {"min_score": 0.0, "onnx_dir": tmp_path / "onnx", "key": "k"}
    fast = CenterNetDetector(head, TUNED, backbone, runtime="onnx", **kw)
    slow = CenterNetDetector(head, TUNED, backbone, runtime="torch", **kw)
    for a, b in zip(fast.predict(images), slow.predict(images), strict=True):
        assert [g.label for g in a] == [g.label for g in b]
        np.testing.assert_allclose(
            [g.confidence for g in a], [g.confidence for g in b], atol=1e-4, rtol=1e-4
        )
    assert (tmp_path / "onnx" / "k.onnx").is_file() and fast.runtime == "onnx"
    with pytest.raises(ModelError):
        CenterNetDetector(head, TUNED, backbone, runtime="tensorrt")


def test_unsure_images_are_those_with_a_peak_in_the_band_on_the_image() -> None:
    from modiste.models.detector_head import unsure_images

    cfg = replace(CFG, classes=("top",), per_class=1)
    logit = float(np.log(0.45 / 0.55))  # probability 0.45: inside (0.3, 0.6)
    heat = torch.full((3, 1, 6, 4), -8.0)
    heat[0, 0, 2, 1] = 5.0  # sure: 0.99
    heat[1, 0, 2, 1] = logit
    heat[2, 0, 2, 3] = logit  # in the right column, which is padding for this image
    content = [(0.0, 0.0, 64.0, 96.0), (0.0, 0.0, 64.0, 96.0), (0.0, 0.0, 48.0, 96.0)]
    assert unsure_images(heat, cfg, content) == [1]
    assert unsure_images(heat, cfg, content, band=(0.9, 1.0)) == [0]


@pytest.mark.slow  # ~12 s: an ONNX export and two PyTorch passes per image
def test_mirror_when_unsure_matches_the_in_graph_mirror_or_the_plain_pass(tmp_path: Path) -> None:
    # Every image unsure: the same heatmaps as the mirror pass inside the graph; none unsure:
    # the same as a head without the mirror pass.
    torch.manual_seed(0)
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    head = build_head(TUNED, backbone.module)
    images = [Image.new("RGB", (64, 96), "white"), Image.new("RGB", (90, 70), "teal")]
    kw = {"min_score": 0.0, "onnx_dir": tmp_path / "onnx", "key": "k"}
    always = CenterNetDetector(head, TUNED, backbone, runtime="torch", **kw).predict(images)
    plain_cfg = replace(TUNED, tta=False)
    plain = CenterNetDetector(head, plain_cfg, backbone, runtime="torch", **kw).predict(images)
    unsure = CenterNetDetector(head, TUNED, backbone, mirror="unsure", **kw)
    assert unsure.mirror_when_unsure and not unsure.in_graph_mirror
    # the running count of mirrored images: both the first time, none more the second
    for band, want, passes in (((0.0, 2.0), always, 2), ((2.0, 3.0), plain, 2)):
        unsure.mirror_band = band
        for a, b in zip(unsure.predict(images), want, strict=True):
            assert [g.label for g in a] == [g.label for g in b]
            np.testing.assert_allclose(
                [g.confidence for g in a], [g.confidence for g in b], atol=1e-4, rtol=1e-4
            )
        assert unsure.mirror_passes == passes
    assert (tmp_path / "onnx" / "k-plain.onnx").is_file()  # not the in-graph mirror's k.onnx
    with pytest.raises(ModelError, match="mirror"):
        CenterNetDetector(head, TUNED, backbone, mirror="sometimes")


def test_settings_choose_the_mirror_mode_of_the_shipped_detector(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from modiste.config import Settings
    from modiste.models.detector import create_detector

    det = create_detector(Settings(data_dir=tmp_path))
    assert isinstance(det, CenterNetDetector) and det.mirror_when_unsure
    det = create_detector(Settings(data_dir=tmp_path, detector_mirror="always"))
    assert isinstance(det, CenterNetDetector) and det.in_graph_mirror
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, detector_mirror="never")


def test_a_zero_class_weight_leaves_that_heatmap_untaught() -> None:
    target = torch.zeros(1, 2, 6, 4)
    target[0, :, 2, 1] = 1.0
    logits = torch.full((1, 2, 6, 4), 3.0)  # fires everywhere: wrong for both classes
    assert float(focal_loss(logits, target, torch.ones(1, 2))) == pytest.approx(
        float(focal_loss(logits, target))
    )
    weight = torch.tensor([[1.0, 0.0]])
    only_first = float(focal_loss(logits, target, weight))
    logits[0, 1] = -logits[0, 1]  # the untaught class changes: the loss does not
    assert float(focal_loss(logits, target, weight)) == pytest.approx(only_first)
    assert only_first == pytest.approx(float(focal_loss(logits[:, :1], target[:, :1])))


def test_pseudo_labels_keep_the_teachers_boxes_that_the_tags_confirm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modiste.domain import Box, Garment
    from modiste.training import detector as training

    cfg = replace(TUNED, classes=("top", "footwear", "hat"))
    backbone = create_backbone("mobilenet_v2", pretrained=False)
    teacher = tmp_path / "teacher.npz"
    save_head(teacher, build_head(cfg, backbone.module), cfg)
    _, lb = letterbox(Image.new("RGB", (64, 96)), 64, 96)

    def garment(label: str, score: float, x1: float) -> Garment:
        return Garment(label, score, Box(x1, 10.0, x1 + 20.0, 50.0))

    said = [
        [garment("top", 0.9, 5), garment("top", 0.5, 30), garment("footwear", 0.8, 10)],
        [garment("hat", 0.7, 20)],
    ]
    monkeypatch.setattr(training, "predict_cached", lambda *a, **k: said)
    items = [DetectionItem(Path(f"{i}.jpg"), np.zeros((0, 4))) for i in range(2)]
    # photo 0: one top tagged, no footwear; photo 1: two hats tagged (a hat and a cap), one seen
    counts = np.array([[1, 0, 0], [0, 0, 2]], np.float32)
    maps = (np.zeros((4, 1, 1, 1)), np.zeros((4, 0, 1, 1)), [lb] * 4)
    got, weight = training.pseudo_label(teacher, cfg, items, maps, counts, 0.3)
    assert [it.labels for it in got] == [["top"], ["hat"], ["top"], ["hat"]]
    np.testing.assert_allclose(got[0].boxes, [[5, 10, 25, 50]])
    np.testing.assert_allclose(got[2].boxes, [[64 - 25, 10, 64 - 5, 50]])  # the mirror
    # untagged footwear is taught as absent; the hat seen once of twice is not taught
    assert weight.tolist() == [[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 1, 0]]
    with pytest.raises(ConfigError, match="teacher"):
        training.pseudo_label(teacher, replace(cfg, input_width=96), items, maps, counts, 0.3)
