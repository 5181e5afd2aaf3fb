"""The real trained text model: loading, outputs, and missing / corrupt artifacts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assist.domain import EKMAN_EMOTIONS
from assist.inference.errors import BadInput, ModelUnavailable
from assist.inference.text_model import TextModel, clean_text, default_model_dir


def test_distributions_are_probabilities(text_model):
    (result,) = text_model.analyze(["Where is my order? It was supposed to arrive yesterday."])
    for dist in (result.emotion, result.sentiment, result.intent):
        assert abs(sum(dist.values()) - 1.0) < 1e-4
    assert set(result.emotion) == set(EKMAN_EMOTIONS)
    assert len(result.intent) == 27
    assert abs(np.linalg.norm(result.embedding) - 1.0) < 1e-4


@pytest.mark.parametrize(
    ("text", "emotion", "intents"),
    [
        ("This is the third time my package is late, I want my money back NOW", "anger", {"get_refund", "complaint"}),
        ("Thank you so much, that's wonderful news!", "joy", None),
        ("I forgot my password and can't log in", None, {"recover_password"}),
        ("How do I track my order?", None, {"track_order"}),
        ("I want to talk to a real person", None, {"contact_human_agent"}),
    ],
)
def test_predictions_on_clear_cases(text_model, text, emotion, intents):
    (result,) = text_model.analyze([text])
    if emotion:
        assert max(result.emotion, key=result.emotion.get) == emotion
    if intents:
        assert max(result.intent, key=result.intent.get) in intents


def test_batch_equals_single(text_model):
    texts = ["I am furious about this", "ok thanks", "Can I change my shipping address?"]
    batch = text_model.analyze(texts)
    for text, expected in zip(texts, batch):
        (single,) = text_model.analyze([text])
        assert max(abs(single.emotion[k] - expected.emotion[k]) for k in EKMAN_EMOTIONS) < 1e-4


def test_clean_text_rejects_empty_and_cuts_long():
    with pytest.raises(BadInput):
        clean_text("   \n\t ")
    with pytest.raises(BadInput):
        clean_text("\x00\x01\x02")
    assert len(clean_text("word " * 300_000)) <= 4000


def test_missing_model_dir(tmp_path):
    with pytest.raises(ModelUnavailable, match="missing"):
        TextModel(tmp_path / "nowhere")


def _copy_model(tmp_path):
    target = tmp_path / "text"
    shutil.copytree(default_model_dir(), target)
    return target


def test_corrupt_weights(tmp_path):
    target = _copy_model(tmp_path)
    (target / "weights.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        TextModel(target)


def test_truncated_weights(tmp_path):
    target = _copy_model(tmp_path)
    data = (target / "weights.safetensors").read_bytes()
    (target / "weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelUnavailable):
        TextModel(target)


def test_missing_weights(tmp_path):
    target = _copy_model(tmp_path)
    (target / "weights.safetensors").unlink()
    with pytest.raises(ModelUnavailable, match="missing"):
        TextModel(target)


def test_corrupt_config(tmp_path):
    target = _copy_model(tmp_path)
    (target / "config.json").write_text("{not json")
    with pytest.raises(ModelUnavailable, match="corrupt"):
        TextModel(target)


def test_encoder_from_a_local_folder(tmp_path):
    """The encoder can come from a user-supplied folder (here: a copy of the packaged one)."""
    from assist.inference.encoder import packaged_minilm_dir

    folder = tmp_path / "minilm"
    shutil.copytree(packaged_minilm_dir(), folder)
    model = TextModel(encoder_source=str(folder))
    assert model.encoder.source == str(folder)
    (result,) = model.analyze(["hello"])
    assert abs(sum(result.emotion.values()) - 1) < 1e-4


def test_encoder_folder_without_config(tmp_path):
    with pytest.raises(ModelUnavailable, match="config.json"):
        TextModel(encoder_source=str(tmp_path))


def test_loading_the_model_leaves_autograd_alone(text_model):
    """Training code run later in the same thread (e.g. the voice model) needs gradients."""
    import torch

    from assist.inference.text_model import TextModel

    TextModel()
    assert torch.is_grad_enabled()
