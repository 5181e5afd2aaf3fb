"""The fusion model: every subset of modalities, masking, ONNX parity, explanations; a turn with voice and a
screenshot through the window's controller and ``assist analyze``."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assist.inference.errors import BadInput, ModelUnavailable
from assist.inference.fusion.features import (
    CONTEXT_TURNS,
    MODALITIES,
    SCREEN_DIM,
    TEXT_DIM,
    VOICE_DIM,
    FusionInputs,
    screen_flags,
)
from assist.inference.fusion.model import FusionModel, default_model_dir

RNG = np.random.default_rng(0)


def random_row(present: tuple[str, ...]) -> FusionInputs:
    return FusionInputs.one(
        text=RNG.normal(size=TEXT_DIM).astype(np.float32) if "text" in present else None,
        context=[(RNG.normal(size=TEXT_DIM).astype(np.float32), i % 2 == 0) for i in range(CONTEXT_TURNS)]
        if "context" in present else (),
        voice=RNG.normal(size=VOICE_DIM).astype(np.float32) if "voice" in present else None,
        screen=RNG.normal(size=SCREEN_DIM).astype(np.float32) if "screen" in present else None,
    )


SUBSETS = [s for n in range(1, 5) for s in itertools.combinations(MODALITIES, n)]


@pytest.fixture(scope="module")
def net():
    import torch

    from assist.inference.fusion.network import FusionNet

    torch.manual_seed(0)
    return FusionNet().eval()


@pytest.fixture(scope="module")
def fusion() -> FusionModel:
    return FusionModel(prefer_gpu=False)


def _run(net, inputs: FusionInputs):
    import torch

    with torch.inference_mode():
        return [o.numpy() for o in net(*(torch.from_numpy(v) for v in inputs.feeds().values()))]


@pytest.mark.parametrize("present", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_every_subset_of_modalities_gives_finite_outputs(net, present) -> None:
    outputs = _run(net, random_row(present))
    assert [o.shape for o in outputs] == [(1, 7), (1, 3), (1, 27), (1, 1)]
    assert all(np.isfinite(o).all() for o in outputs)


def test_an_absent_modality_has_no_influence(net) -> None:
    row = random_row(("text", "voice"))
    other = FusionInputs.stack([row])
    other.screen[:] = 1000.0  # garbage where the screen would be, but flagged absent
    other.context[:] = -1000.0
    for a, b in zip(_run(net, row), _run(net, other)):
        assert np.array_equal(a, b)


def test_onnx_export_matches_pytorch_within_1e_4(net, tmp_path: Path) -> None:
    import onnxruntime

    from assist.inference.fusion.network import INPUT_NAMES, export_onnx

    export_onnx(net, tmp_path / "f.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    batch = FusionInputs.stack([random_row(s) for s in SUBSETS])
    got = session.run(None, dict(zip(INPUT_NAMES, batch.feeds().values())))
    for a, b in zip(got, _run(net, batch)):
        assert np.abs(a - b).max() <= 1e-4


def test_shipped_onnx_matches_its_weights() -> None:
    from assist.inference.fusion.network import load_net

    config = json.loads((default_model_dir() / "config.json").read_text())
    net = load_net(default_model_dir() / "weights.safetensors", config["network"])
    model = FusionModel(prefer_gpu=False)
    batch = FusionInputs.stack([random_row(s) for s in SUBSETS])
    got = model.run(batch)
    for name, expected in zip(("emotion", "sentiment", "intent", "escalation"), _run(net, batch)):
        assert np.abs(got[name] - expected).max() <= 1e-4, name


@pytest.mark.parametrize("present", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_estimate_explains_with_the_modalities_present(fusion, present) -> None:
    estimate = fusion.estimate(random_row(present))
    assert estimate.modalities == present
    assert set(estimate.contributions["emotion"]) == set(present)
    assert abs(sum(estimate.emotion.values()) - 1) < 1e-4 and 0 <= estimate.escalation <= 1
    assert estimate.provider in {"CPUExecutionProvider", "CUDAExecutionProvider"}
    assert estimate.explanation()


def test_nothing_to_fuse_and_nan_features_are_bad_input(fusion) -> None:
    with pytest.raises(BadInput, match="Nothing to analyse"):
        fusion.estimate(FusionInputs.one())
    row = random_row(("text",))
    row.text[0, 3] = np.nan
    with pytest.raises(BadInput, match="NaN"):
        fusion.estimate(row)


def test_missing_or_corrupt_fusion_model(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="missing"):
        FusionModel(tmp_path / "nowhere")
    target = tmp_path / "fusion"
    shutil.copytree(default_model_dir(), target)
    (target / "fusion.onnx").write_bytes(b"not onnx" * 100)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        FusionModel(target)


def test_screen_flags() -> None:
    flags = screen_flags([("status", "Declined"), ("amount", "59.99 USD"), ("order_id", "A12345")])
    assert flags.tolist() == [1.0, 0.0, 1.0, 1.0]
    assert screen_flags([("status", "Delivered")]).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_model_card_numbers_belong_to_the_shipped_fusion_model() -> None:
    metrics = json.loads((default_model_dir() / "metrics.json").read_text())
    onnx = (default_model_dir() / "fusion.onnx").read_bytes()
    assert metrics["weights_sha256"] == hashlib.sha256(onnx).hexdigest()
    card = (default_model_dir() / "MODEL_CARD.md").read_text()
    assert f"{metrics['summary']['meld_dev_emotion_weighted_f1']:.4f}" in card
    assert f"{metrics['summary']['meld_dev_emotion_weighted_f1_without_context']:.4f}" in card


# ---- the whole turn: text + voice + screenshot ---------------------------------------------------------


def speech_wav() -> Path:
    path = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
    if not path.is_file():
        pytest.skip("apt package pocketsphinx-testdata is not installed")
    return path


def analyze(engines, text, **turn):
    """One turn through the window's controller (assist.pipeline.assembly): its Insight and the controller."""
    from assist.pipeline.assembly import analyze_turn, session_controller

    controller = session_controller(engines)
    return analyze_turn(controller, text, **turn), controller


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory) -> Path:
    import cv2

    from assist.inference.screen.synthetic import render_order_page

    path = tmp_path_factory.mktemp("screen") / "order.png"
    cv2.imwrite(str(path), render_order_page())
    return path


def test_text_voice_and_screen_turn(app_engines, screenshot) -> None:
    text = "This is the third time my package is late, I want my money back NOW"
    context = [("agent", "Sorry, let me check the order.")]
    words, _ = analyze(app_engines, text, image=screenshot, context=context)
    assert words.emotion.label == "anger"  # the order page does not decide the emotion
    assert not words.contributions  # a chat turn: the text model (and the prior), not the fusion model
    insight, controller = analyze(app_engines, text, voice=speech_wav(), image=screenshot, context=context)
    assert set(insight.contributions["emotion"]) == {"text", "context", "voice", "screen"}
    # a calm audiobook voice under angry words: the fused estimate is less sure of anger, and says why
    assert insight.emotion.probabilities["anger"] < words.emotion.probabilities["anger"]
    assert insight.contributions["emotion"]["voice"] != 0
    assert insight.intent.label == "get_refund"  # from the words, whatever the voice
    assert any(n.startswith("Voice: ") for n in insight.notes)
    assert any(e.kind == "status" for e in controller.screen_entities)  # the screenshot's entities join the turn
    assert len(insight.suggestions) == 3 and "fusion" in insight.model_versions


def test_silence_and_blank_screens_are_left_out_with_a_note(app_engines, tmp_path: Path) -> None:
    import cv2

    silence = tmp_path / "silence.wav"
    import soundfile

    soundfile.write(str(silence), np.zeros(16000 * 2, dtype=np.float32), 16000)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((400, 600, 3), 255, dtype=np.uint8))
    insight, controller = analyze(app_engines, "where is my order?", voice=silence, image=blank)
    assert not insight.contributions and controller.screen is None and controller.screen_entities == []
    assert any("no speech" in n for n in insight.notes)


def test_voice_alone_is_enough(app_engines) -> None:
    insight, _ = analyze(app_engines, "", voice=speech_wav())  # no words: the estimate is the voice's
    assert set(insight.contributions["emotion"]) == {"voice"}
    assert any("No words were recognised" in n for n in insight.notes)


def test_a_call_turn_without_text_is_heard_by_the_speech_recogniser(app_engines) -> None:
    insight, controller = analyze(app_engines, None, voice=speech_wav())
    heard = controller.history[-1].message.text
    assert len(heard.split()) > 3 and "voice" in insight.contributions["emotion"]


def test_cli_analyze_text_wav_image(screenshot) -> None:
    from support import run_assist

    result = run_assist("analyze", "--text", "I want my money back NOW, this is the third late package",
                        "--wav", str(speech_wav()), "--image", str(screenshot),
                        "--context", "Hi, my order is late", "--context", "Agent: Sorry! Let me check.")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # the Insight, as the window shows and journals it
    assert set(out["contributions"]["emotion"]) == {"text", "context", "voice", "screen"}
    assert out["emotion"]["label"] in out["emotion"]["probabilities"] and len(out["suggestions"]) == 3
    assert out["escalation"]["level"] in {"low", "medium", "high"}


def test_cli_analyze_missing_file_fails_with_a_message(tmp_path: Path) -> None:
    from support import run_assist

    result = run_assist("analyze", "--text", "hi", "--wav", str(tmp_path / "none.wav"))
    assert result.returncode == 2 and "not found" in result.stderr

