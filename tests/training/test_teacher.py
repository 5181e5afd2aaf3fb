"""Knowledge distillation: the teacher's training run and soft labels, and the student's loss that uses them.

The release's teacher (all-mpnet-base-v2, 440 MB) is not installed in CI; the same code runs here on a tiny random
BERT built in the test, on the real MELD and GoEmotions files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from assist.domain import EKMAN_EMOTIONS
from assist.training.data import TextExample, default_data_dir, load_meld
from assist.training.distillation import attach_teacher, load_teacher_probs, text_key
from assist.training.teacher import student_texts
from assist.training.train_text import (
    CachedExample,
    TrainOptions,
    batch_loss,
    distillation_loss,
    draw_examples,
)
from support import run_assist

WORDS = "i want my money back now the parcel is late again oh my god that is great okay yes no what".split()


def build_tiny_encoder(folder: Path) -> Path:
    """A 2-layer BERT with a word-level tokenizer, saved like any transformers checkpoint."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator([" ".join(WORDS)], trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]")
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _cached(example: TextExample) -> CachedExample:
    import torch

    return CachedExample(example, torch.zeros(3, 4), 3)


def test_text_key_hides_the_text_and_is_stable():
    assert text_key("Oh my God!") == text_key("Oh my God!") != text_key("Oh my god!")
    assert len(text_key("Oh my God!")) == 16 and "God" not in text_key("Oh my God!")


def test_distillation_pulls_the_student_towards_the_teacher():
    import torch

    teacher = (0.05, 0.05, 0.05, 0.6, 0.15, 0.05, 0.05)
    batch = [_cached(TextExample("great", "meld", emotions=(4,), soft_emotions=teacher)),
             _cached(TextExample("yay", "goemotions", emotions=(3,), soft_emotions=teacher)),
             _cached(TextExample("where is it", "bitext", intent=0))]
    opts = TrainOptions(teacher="probs.json", kd_weight=0.5, kd_unlabelled_weight=0.5)
    logits = torch.zeros(3, len(EKMAN_EMOTIONS), requires_grad=True)
    loss = distillation_loss(logits, batch, opts)
    # uniform student: soft cross-entropy = log 7 for each of the two weighted sources
    assert loss.item() == pytest.approx(0.5 * np.log(7) + 0.5 * np.log(7), rel=1e-5)
    loss.backward()
    assert logits.grad[0].argmin().item() == EKMAN_EMOTIONS.index("joy")  # descent raises the teacher's choice
    assert torch.all(logits.grad[2] == 0)  # no teacher label, no pull
    assert distillation_loss(logits, batch, TrainOptions(teacher="probs.json", kd_weight=0.0,
                                                         kd_unlabelled_weight=0.0)).item() == 0.0


def test_gold_label_weight_drops_only_for_turns_the_teacher_read():
    import torch

    batch = [_cached(TextExample("great", "meld", emotions=(4,), sentiment=1))]
    logits = {k: torch.zeros(1, n) for k, n in (("emotion", 7), ("emotion_goemotions", 7), ("sentiment", 3),
                                                ("intent", 27))}
    plain = batch_loss(logits, batch, TrainOptions()).item()
    distilled = batch_loss(logits, batch, TrainOptions(teacher="probs.json", kd_weight=0.25)).item()
    assert plain == pytest.approx(np.log(7) + np.log(3), rel=1e-5)
    assert distilled == pytest.approx(plain, rel=1e-5)  # the teacher did not read this turn: all of its gold label
    batch[0].example.soft_emotions = (1 / 7,) * 7
    distilled = batch_loss(logits, batch, TrainOptions(teacher="probs.json", kd_weight=0.25)).item()
    assert distilled == pytest.approx(0.75 * np.log(7) + 0.25 * np.log(7) + np.log(3), rel=1e-5)


def test_attach_teacher_by_hash(tmp_path):
    path = tmp_path / "teacher_probs.json"
    soft = [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]
    path.write_text(json.dumps({"about": {"labels": list(EKMAN_EMOTIONS)}, "probs": {text_key("hi there"): soft}}))
    examples = [TextExample("hi there", "meld", emotions=(4,)), TextExample("hi there", "bitext", intent=1),
                TextExample("other", "goemotions", emotions=(3,))]
    assert attach_teacher(examples, str(path)) == 1
    assert examples[0].soft_emotions == tuple(soft) and not examples[1].soft_emotions
    path.write_text(json.dumps({"about": {"labels": ["a"] * 7}, "probs": {}}))
    with pytest.raises(ValueError, match="labels differ"):
        load_teacher_probs(path)
    path.write_text(json.dumps({"about": {"labels": list(EKMAN_EMOTIONS)}, "probs": {"k": [0.5, 0.5]}}))
    with pytest.raises(ValueError, match="7 probabilities"):
        load_teacher_probs(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a teacher_probs.json"):
        load_teacher_probs(path)


def test_student_texts_are_the_ones_the_student_draws():
    data = default_data_dir()
    student = TrainOptions(seed=3, goemotions_limit=50, bitext_limit=40)
    texts = set(student_texts(data, student))
    drawn, _ = draw_examples(data, student, random.Random(3))  # what train_text draws with this seed
    goemotions = {e.text for e in drawn if e.source == "goemotions"}
    assert len(goemotions) >= 45 and goemotions <= texts
    assert {e.text for e in load_meld(data, "train", 0)} <= texts
    other = {e.text for e in draw_examples(data, TrainOptions(seed=4, goemotions_limit=50, bitext_limit=40),
                                           random.Random(4))[0] if e.source == "goemotions"}
    assert other != goemotions  # the draw depends on the seed: the teacher must be told the student's


@pytest.mark.slow
def test_train_teacher_then_distil_into_the_student(tmp_path):
    encoder = build_tiny_encoder(tmp_path / "tiny-bert")
    out = tmp_path / "teacher"
    result = run_assist("train", "teacher", "--quick", "--encoder", str(encoder), "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    assert about["texts"] > 8500 and 0.0 <= about["meld_dev_emotion_wf1"] <= 1.0
    payload = json.loads((out / "teacher_probs.json").read_text())
    probs = np.array(list(payload["probs"].values()))
    assert probs.shape == (about["texts"], 7) and np.allclose(probs.sum(1), 1.0, atol=1e-3)
    assert "Oh my God" not in (out / "teacher_probs.json").read_text()  # hashes, not MELD's text

    student = tmp_path / "student"
    result = run_assist("train", "text", "--quick", "--out", str(student), "--set",
                        f"teacher={out / 'teacher_probs.json'}", timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["train_examples"]["with_teacher_probs"] >= summary["train_examples"]["meld"] > 0

    bad = run_assist("train", "teacher", "--encoder", str(tmp_path), "--out", str(out))
    assert bad.returncode != 0 and "not a transformers model folder" in bad.stderr
    (tmp_path / "broken.json").write_text('{"about": {"labels": [')
    for wrong in (tmp_path / "missing.json", tmp_path / "broken.json"):
        bad = run_assist("train", "text", "--quick", "--out", str(student), "--set", f"teacher={wrong}")
        assert bad.returncode != 0 and "teacher:" in bad.stderr and "Traceback" not in bad.stderr
