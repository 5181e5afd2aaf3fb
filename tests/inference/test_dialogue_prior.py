"""The conversation prior: a customer's previous turn informs the next one's emotion (fitted on MELD, measured)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace as dc_replace
from pathlib import Path

import numpy as np
import pytest

from assist.domain import EKMAN_EMOTIONS, Role
from assist.inference.dialogue_prior import FILE_NAME, DialoguePrior, DialoguePriorError, load_prior
from assist.pipeline.controller import SessionController
from assist.training.data import TextExample
from assist.training.dialogue_prior import (
    MELD_GUARD,
    count_lift,
    fit_support_calibration,
    read_conversations,
    read_dialogues,
)
from assist.training.metrics import fit_temperature

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "text" / FILE_NAME


def _dist(**values: float) -> dict[str, float]:
    out = {k: 0.01 for k in EKMAN_EMOTIONS}
    out.update(values)
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}


def test_shipped_prior_loads_and_says_how_it_was_made() -> None:
    prior = load_prior(SHIPPED)
    assert 1.0 < prior.temperature < 3.0 and prior.weight == 1.0
    diagonal = np.diag(prior.lift)
    assert (diagonal > 1.2).all()  # each emotion is likelier after the same one from the same speaker
    assert prior.bias is not None and prior.bias.shape == (7,)
    about = json.loads(SHIPPED.read_text())["about"]
    support = about["support_calibration"]  # refitted on the development set's tuning part, within the MELD guard
    assert support["tune_after"]["emotion_accuracy"] > support["tune_before"]["emotion_accuracy"]
    assert support["tune_after"]["emotion_macro_f1"] > support["tune_before"]["emotion_macro_f1"]
    assert support["tune_after"]["ece"] < support["tune_before"]["ece"]
    meld = about["meld_dev"]["emotion_weighted_f1_with_previous_turns"]
    assert meld >= support["meld_dev_weighted_f1_before"] - MELD_GUARD


def test_combine_tempers_alone_and_leans_on_the_previous_turn() -> None:
    prior = load_prior(SHIPPED)
    now = _dist(neutral=0.55, anger=0.4)
    alone = prior.combine(now, None)
    assert max(alone, key=alone.get) == "neutral" and alone["neutral"] < now["neutral"]  # calibrated: less sure
    after_anger = prior.combine(now, _dist(anger=0.9))
    after_joy = prior.combine(now, _dist(joy=0.9))
    assert max(after_anger, key=after_anger.get) == "anger"
    assert after_joy["anger"] < alone["anger"] < after_anger["anger"]
    for out in (alone, after_anger, after_joy):
        assert abs(sum(out.values()) - 1) < 1e-9 and list(out) == list(EKMAN_EMOTIONS)
    assert prior.combine(now, {k: 0.0 for k in EKMAN_EMOTIONS}) == alone  # an empty previous estimate is no prior
    strong = prior.combine(_dist(joy=0.97), _dist(anger=0.9))
    assert max(strong, key=strong.get) == "joy"  # a clear new message still wins


@pytest.mark.parametrize("damage", ["not json", "labels", "negative", "temperature"])
def test_a_damaged_prior_file_is_refused_in_words(tmp_path: Path, damage: str) -> None:
    doc = json.loads(SHIPPED.read_text())
    path = tmp_path / FILE_NAME
    if damage == "not json":
        path.write_text("{ truncated")
    else:
        if damage == "labels":
            doc["labels"] = doc["labels"][::-1]
        elif damage == "negative":
            doc["lift"][0][0] = -1
        else:
            doc["temperature"] = 0
        path.write_text(json.dumps(doc))
    with pytest.raises(DialoguePriorError, match=FILE_NAME):
        load_prior(path)
    with pytest.raises(DialoguePriorError, match="missing"):
        load_prior(tmp_path / "none.json")


def test_lift_is_counted_per_speaker_within_a_dialogue() -> None:
    anger, joy = EKMAN_EMOTIONS.index("anger"), EKMAN_EMOTIONS.index("joy")
    rows = [("d1", "A", anger), ("d1", "B", joy), ("d1", "A", anger), ("d1", "B", joy), ("d2", "A", joy),
            ("d2", "A", joy), ("d2", "B", anger)]
    lift = count_lift([TextExample("x", "meld", (e,), dialogue=d, speaker=s) for d, s, e in rows], smoothing=0.01)
    assert lift[anger, anger] > 1 and lift[joy, joy] > 1  # A stayed angry in d1, B stayed joyful, A joyful in d2
    assert lift[anger, joy] < 0.1 and lift[joy, anger] < 0.1  # nobody switched; d2's B has no previous turn


def test_temperature_is_recovered_from_overconfident_probabilities() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 7))
    true = np.exp(logits / 2.0)
    true /= true.sum(1, keepdims=True)
    gold = [rng.choice(7, p=p) for p in true]
    shown = np.exp(logits)
    shown /= shown.sum(1, keepdims=True)  # the model says logits at T=1: twice too sure
    assert abs(fit_temperature(np.log(shown), gold, bounds=(0.5, 5.0)) - 2.0) < 0.25  # as the prior is fitted
    assert abs(fit_temperature(logits, gold) - 2.0) < 0.25  # and on logits, as the fusion model is


def test_a_binary_temperature_is_recovered_and_unlabelled_rows_are_skipped() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, size=(4000, 1))
    gold = (rng.random(4000) < 1 / (1 + np.exp(-z[:, 0] / 3.0))).astype(int)
    gold[:500] = -1  # no label: not counted
    assert abs(fit_temperature(z, gold, binary=True) - 3.0) < 0.4


def test_dialogues_are_read_in_order_with_each_speakers_own_previous_turn() -> None:
    prior = DialoguePrior(lift=load_prior(SHIPPED).lift, temperature=1.0)
    anger = EKMAN_EMOTIONS.index("anger")
    probs = np.array([[0.9 if k == anger else 0.1 / 6 for k in range(7)],  # A angry
                      [1 / 7] * 7,  # B unsure: B has no previous turn, stays flat
                      [1 / 7] * 7])  # A unsure: read after A's anger
    rows = [TextExample("x", "meld", (0,), dialogue="d", speaker=s) for s in ("A", "B", "A")]
    out = read_dialogues(rows, probs, prior)
    assert np.allclose(out[1], 1 / 7) and out[2].argmax() == anger
    assert np.allclose(read_dialogues(rows, probs, prior, use_prior=False)[2], 1 / 7)


def test_the_app_reads_a_customer_turn_with_the_previous_one(engines) -> None:
    assert engines.dialogue_prior is not None  # shipped with the text model, loaded by default
    text = "ok. what happens now?"
    with_prior = SessionController(engines)
    with_prior.start_session()
    angry = with_prior.submit(Role.CUSTOMER, "This is outrageous, I am furious, you people lost my parcel AGAIN!")
    assert angry.insight.emotion.label == "anger"
    with_prior.submit(Role.AGENT, "I'm sorry, let me look into it.")
    after_anger = with_prior.submit(Role.CUSTOMER, text).insight.emotion.probabilities
    fresh = SessionController(engines)
    fresh.start_session()
    first = fresh.submit(Role.CUSTOMER, text).insight.emotion.probabilities
    plain = SessionController(dc_replace(engines, dialogue_prior=None))
    plain.start_session()
    raw = plain.submit(Role.CUSTOMER, text).insight.emotion.probabilities
    assert after_anger["anger"] > first["anger"]  # the customer's anger carries over
    turn = with_prior.history[-1]
    if max(after_anger, key=after_anger.get) != max(first, key=first.get):  # the label changed: said in words
        assert any("previous turn (anger)" in note for note in turn.insight.notes)
    assert max(first.values()) <= max(raw.values())  # calibrated: never surer than the raw text model
    assert max(first, key=first.get) == max(raw, key=raw.get)  # tempering alone never changes the label


def test_a_corrupt_prior_leaves_the_app_working_with_a_note(tmp_path: Path) -> None:
    from assist.pipeline.engines import EngineConfig, load_engines

    model_dir = tmp_path / "text"
    shutil.copytree(REPO / "models" / "text", model_dir, ignore=shutil.ignore_patterns("weights.safetensors"))
    (model_dir / FILE_NAME).write_text("garbage")
    loaded = load_engines(EngineConfig(model_dir=model_dir, macros=False))
    assert loaded.dialogue_prior is None
    assert any("conversation prior" in note and "assist train dialogue-prior" in note for note in loaded.notes)
    controller = SessionController(loaded)
    controller.start_session()
    assert controller.submit(Role.CUSTOMER, "Where is my refund?").insight.emotion.label


def test_support_calibration_lifts_a_class_the_model_under_reads() -> None:
    """Turns whose truth is fear but the model leans to anger: the fitted bias moves them to fear, and a
    conversation is read turn by turn with its previous estimate."""
    rng = np.random.default_rng(3)
    base = DialoguePrior(lift=np.ones((7, 7)), temperature=1.0)
    fear, anger = EKMAN_EMOTIONS.index("fear"), EKMAN_EMOTIONS.index("anger")
    probs, gold = [], []
    for _ in range(40):
        rows = np.full((3, 7), 0.05)
        truth = [fear if rng.random() < 0.5 else anger for _ in range(3)]
        for i, t in enumerate(truth):
            rows[i, anger] = 0.5 if t == fear else 0.7
            rows[i, fear] = 0.4 if t == fear else 0.1
        probs.append(rows / rows.sum(1, keepdims=True))
        gold.append(truth)
    flat = np.concatenate([np.asarray(g) for g in gold])
    before = (np.concatenate(read_conversations(probs, base)).argmax(1) == flat).mean()
    fitted = fit_support_calibration(probs, gold, base, l2=0.01)
    after = (np.concatenate(read_conversations(probs, fitted)).argmax(1) == flat).mean()
    assert fitted.bias is not None and fitted.bias[fear] > fitted.bias[anger]
    assert before < 0.6 and after > 0.9


def test_a_prior_file_with_an_absurd_bias_is_refused(tmp_path: Path) -> None:
    doc = json.loads(SHIPPED.read_text())
    doc["bias"] = [40.0, 0, 0, 0, 0, 0, 0]
    bad = tmp_path / FILE_NAME
    bad.write_text(json.dumps(doc))
    with pytest.raises(DialoguePriorError, match="does not hold a prior"):
        load_prior(bad)
    doc["bias"] = [0.1] * 6
    bad.write_text(json.dumps(doc))
    with pytest.raises(DialoguePriorError):
        load_prior(bad)
