"""The text model on onnxruntime (the app's runtime) against the PyTorch model it was exported from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assist.domain import EKMAN_EMOTIONS
from assist.inference.errors import ModelUnavailable
from assist.inference.labels import INTENTS
from assist.inference.text_model import TextModel, default_model_dir
from assist.inference.text_onnx import (
    ONNX_FILE,
    OUTPUTS,
    FastTokenizer,
    OnnxTextModel,
    export_text_onnx,
    load_text_model,
    tokenizer_file,
)

MESSAGES = [
    "This is the third time my package is late, I want my money back NOW",
    "Thank you so much, that fixed it!",
    "I'm scared my card was stolen, there are charges I don't recognise",
    "how do I change the shipping address on my order",
    "Ugh. Disgusting service, honestly.",
    "ok",
    "Wait, what? You already shipped it?",
    "I'd like to speak with a real person please",
    "😡😡😡",
    "Mi pedido no ha llegado, where is my order??",
]
CONTEXTS = ["", "The agent said it is on the way", "", "", "I waited an hour", "", "", "", "", ""]


@pytest.fixture(scope="module")
def torch_model() -> TextModel:
    return TextModel(device="cpu")


@pytest.fixture(scope="module")
def onnx_model() -> OnnxTextModel:
    return OnnxTextModel(device="cpu")


def test_tokenizer_matches_transformers(torch_model) -> None:
    fast = FastTokenizer(tokenizer_file())
    long = "word " * 300
    for texts, contexts in ((MESSAGES, None), (MESSAGES[:3], ["previous turn", "", long]), ([long], None)):
        ours = fast(texts, contexts)
        theirs = torch_model.encoder.tokenize(texts, contexts)
        for name, tensor in (("input_ids", theirs.input_ids), ("attention_mask", theirs.attention_mask),
                             ("token_type_ids", theirs.token_type_ids), ("pool_mask", theirs.pool_mask)):
            ref = tensor.numpy()
            assert ours[name].shape == ref.shape, name
            assert (ours[name] == ref).all(), name


def test_fp32_export_matches_pytorch_within_1e_4(torch_model, tmp_path: Path) -> None:
    import torch

    from assist.inference.text_onnx import make_session

    facts = export_text_onnx(out_dir=tmp_path, quantize=False)
    session = make_session(tmp_path / facts["file"], prefer_gpu=False)
    fast = FastTokenizer(tokenizer_file())
    for texts, contexts in ((MESSAGES, None), (MESSAGES[:2], CONTEXTS[:2])):
        feeds = fast(texts, contexts)
        got = dict(zip(OUTPUTS, session.run(list(OUTPUTS), feeds)))
        batch = torch_model.encoder.tokenize(texts, contexts)
        from assist.inference.text_onnx import build_export_graph

        with torch.inference_mode():
            ref = build_export_graph(torch_model)(batch.input_ids, batch.attention_mask, batch.token_type_ids,
                                                  batch.pool_mask)
        for name, expected in zip(OUTPUTS, ref):
            assert np.abs(got[name] - expected.numpy()).max() <= 1e-4, name


def test_int8_runtime_agrees_with_pytorch(torch_model, onnx_model) -> None:
    ref = torch_model.analyze(MESSAGES, CONTEXTS)
    got = onnx_model.analyze(MESSAGES, CONTEXTS)
    agree_emotion = sum(max(r.emotion, key=r.emotion.get) == max(g.emotion, key=g.emotion.get) for r, g in zip(ref, got))
    agree_intent = sum(max(r.intent, key=r.intent.get) == max(g.intent, key=g.intent.get) for r, g in zip(ref, got))
    assert agree_emotion >= 9 and agree_intent >= 9
    # retrieval embedding (unit norm): on 200 MELD/Bitext messages int8 vs fp32 cosine is 0.99 on average
    cosines = [float(r.embedding @ g.embedding) for r, g in zip(ref, got)]
    assert min(cosines) >= 0.95 and np.mean(cosines) >= 0.985
    for g in got:
        assert abs(sum(g.emotion.values()) - 1) < 1e-4 and set(g.emotion) == set(EKMAN_EMOTIONS)
        assert set(g.intent) == set(INTENTS)


def test_a_message_scores_the_same_alone_or_in_a_batch(onnx_model) -> None:
    together = onnx_model.analyze(MESSAGES[:4])
    for text, batched in zip(MESSAGES[:4], together):
        alone = onnx_model.analyze([text])[0]
        assert alone.emotion == batched.emotion and alone.intent == batched.intent
        assert np.array_equal(alone.embedding, batched.embedding)


def test_embed_is_unit_norm_and_matches_analyze(onnx_model) -> None:
    vectors = onnx_model.embed(MESSAGES[:3])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert np.allclose(vectors[0], onnx_model.analyze([MESSAGES[0]])[0].embedding)


def test_bulk_embedding_runs_the_cut_down_graph_and_gives_the_same_vectors(onnx_model) -> None:
    from assist.inference.text_onnx import BULK_EMBED

    texts = [f"{MESSAGES[i % len(MESSAGES)]} ({i})" for i in range(BULK_EMBED)]
    one_by_one = np.concatenate([onnx_model.embed([t]) for t in texts])
    bulk = onnx_model.embed(texts)
    session = onnx_model._embedding_session()
    assert session is not None and [o.name for o in session.get_outputs()] == ["embedding"]
    assert np.array_equal(bulk, one_by_one)  # the same vectors: a KB built in bulk matches the app's queries


def test_auto_backend_is_onnx_for_the_shipped_model() -> None:
    model = load_text_model(device="cpu")
    assert model.backend == "onnx" and model.provider == "CPUExecutionProvider"
    assert model.version.endswith("+onnx-int8")


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "text"
    shutil.copytree(default_model_dir(), target)
    return target


def test_auto_backend_falls_back_to_pytorch_when_the_onnx_file_is_missing(model_copy: Path) -> None:
    (model_copy / ONNX_FILE).unlink()
    model = load_text_model(model_copy, device="cpu")
    assert model.backend == "torch" and "not found" in model.fallback_reason
    with pytest.raises(ModelUnavailable, match="missing"):
        load_text_model(model_copy, device="cpu", backend="onnx")


def test_auto_backend_falls_back_when_the_onnx_file_is_stale(model_copy: Path) -> None:
    config = json.loads((model_copy / "config.json").read_text())
    config["onnx"]["source_weights_sha256"] = "0" * 64
    (model_copy / "config.json").write_text(json.dumps(config))
    model = load_text_model(model_copy, device="cpu")
    assert model.backend == "torch" and "other weights" in model.fallback_reason


def test_corrupt_onnx_file_is_a_clear_error(model_copy: Path) -> None:
    (model_copy / ONNX_FILE).write_bytes(b"\x00not an onnx graph" * 100)
    with pytest.raises(ModelUnavailable, match="corrupt or unreadable"):
        load_text_model(model_copy, device="cpu")


def test_missing_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable):
        FastTokenizer(tmp_path / "tokenizer.json")
