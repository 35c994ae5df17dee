"""bfloat16 inference on OpenVINO beside float32 on ONNX Runtime (``models/onnx_runtime.py``):
which precision a request gets, the session's answers against ONNX Runtime's on the same graph,
several callers at once, and which models take ``Settings.inference_precision``."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from modiste.config import Settings
from modiste.errors import ModelError
from modiste.models import onnx_runtime
from modiste.models.onnx_runtime import cpu_session, export_onnx, resolve_precision


class _Net(torch.nn.Module):
    """Two outputs, so that their order and names are checked."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.dw(torch.relu(self.conv(x))))
        return torch.sigmoid(y[:, :4]), y.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def graph() -> bytes:
    torch.manual_seed(0)
    return export_onnx(_Net().eval(), (1, 3, 24, 16), ["heat", "pooled"])


@pytest.fixture
def no_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_runtime, "native_bf16", lambda: False)


def test_f32_is_f32_and_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_precision("f32") == "f32"
    monkeypatch.setattr(onnx_runtime, "native_bf16", lambda: True)
    assert resolve_precision("auto") == "bf16" and resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(onnx_runtime, "native_bf16", lambda: False)
    assert resolve_precision("auto") == "f32"
    with pytest.raises(ModelError, match="unknown inference precision"):
        resolve_precision("fp8")


def test_bf16_without_the_cpu_or_openvino_runs_float32_and_says_so(
    no_bf16: None, graph: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="modiste.models.onnx_runtime"):
        session = cpu_session(graph, 1, "tiny", "bf16")
    assert "bfloat16 inference needs OpenVINO" in caplog.text
    assert type(session).__name__ == "InferenceSession"  # ONNX Runtime's


def test_settings_refuse_an_unknown_precision(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).inference_precision == "auto"
    with pytest.raises(ValueError, match="inference_precision"):
        Settings(data_dir=tmp_path, inference_precision="int4")


def test_openvino_session_answers_as_onnx_runtime_in_graph_order(graph: bytes) -> None:
    pytest.importorskip("openvino")
    from modiste.models.onnx_runtime import OpenVinoSession

    x = np.random.default_rng(0).standard_normal((3, 3, 24, 16)).astype(np.float32)
    ref = cpu_session(graph, 1, "tiny", "f32").run(None, {"images": x})
    got = OpenVinoSession(graph, 1, 1, "tiny").run(None, {"images": x})
    assert [a.shape for a in got] == [a.shape for a in ref] == [(3, 4, 24, 16), (3, 8)]
    for a, b in zip(got, ref, strict=True):
        assert a.dtype == np.float32
        # bfloat16 keeps 8 bits of mantissa: a few parts in a hundred at most on these values
        np.testing.assert_allclose(a, b, atol=0.05, rtol=0.05)
        assert not np.array_equal(a, np.zeros_like(a))
    pooled, heat = OpenVinoSession(graph, 1, 1, "tiny").run(["pooled", "heat"], {"images": x})
    np.testing.assert_array_equal(pooled, got[1])
    np.testing.assert_array_equal(heat, got[0])


def test_openvino_session_takes_callers_at_once_each_with_its_own_answer(graph: bytes) -> None:
    pytest.importorskip("openvino")
    from modiste.models.onnx_runtime import OpenVinoSession

    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((1, 3, 24, 16)).astype(np.float32) for _ in range(12)]
    one = OpenVinoSession(graph, 1, 1, "tiny")
    alone = [one.run(None, {"images": x})[1] for x in batches]
    shared = OpenVinoSession(graph, 1, 2, "tiny")
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda x: shared.run(None, {"images": x})[1], batches))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)  # no caller got another's output


def test_a_graph_openvino_cannot_read_is_a_model_error(graph: bytes) -> None:
    pytest.importorskip("openvino")
    from modiste.models.onnx_runtime import OpenVinoSession

    with pytest.raises(ModelError, match="OpenVINO could not load the broken graph"):
        OpenVinoSession(graph[: len(graph) // 3], 1, 1, "the broken graph")


@pytest.mark.slow  # ~5 s: builds the shipped models (no export)
def test_the_detector_takes_the_setting_shot_labels_and_crop_vectors_stay_float32(
    tmp_path: Path,
) -> None:
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.models.detector import create_detector

    settings = Settings(data_dir=tmp_path, inference_precision="bf16")
    detector = create_detector(settings, threads=1, lanes=2)
    assert getattr(detector, "precision", None) == "bf16" and getattr(detector, "lanes", 0) == 2
    classifier = create_shot_classifier(settings, lanes=2)
    assert classifier.embedder.precision == "f32" and classifier.embedder.lanes == 2
    asked = create_shot_classifier(settings, precision="bf16")  # precision_bench compares so
    assert asked.embedder.precision == "bf16"
    # stored in the index, compared with every later query: one precision everywhere
    assert create_crop_embedder(settings).features.precision == "f32"
