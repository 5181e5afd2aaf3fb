"""``assist train text``: fine-tune MiniLM's top layers and the multi-task heads.

The bottom ``split_layer`` layers stay frozen, so their outputs are computed once and
cached; each epoch then only runs the tuned layers. That keeps a full run well under
30 minutes on 2 CPU cores while still fine-tuning most of the encoder.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, ProgressState
from assist.inference.chat_text import NORMALISATION_VERSION, model_input
from assist.inference.encoder import SPLIT_LAYER, SplitMiniLM, mean_pool, pick_device, run_layers
from assist.inference.text_model import build_heads, save_model
from assist.training.augment import augment_intents, paraphrase_refunds
from assist.training.data import (
    TextExample,
    load_airline,
    load_bitext,
    load_dailydialog,
    load_goemotions,
    load_meld,
    load_satisfaction,
    meld_fold_of,
    split_meld_train,
)
from assist.training.distillation import attach_teacher


@dataclass
class TrainOptions:
    seed: int = 7
    epochs: int = 4
    batch_size: int = 32
    lr_layers: float = 3e-5
    lr_heads: float = 2e-3
    goemotions_limit: int = 8000
    bitext_limit: int = 10000
    meld_limit: int = 0  # 0 = all of MELD train
    meld_folds: int = 0  # > 0: leave out MELD train fold ``meld_fold`` (out-of-fold features for the fusion)
    meld_fold: int = 0
    meld_repeat: int = 1  # MELD utterances seen this many times per epoch (the app's emotion head)
    goemotions_weight: float = 0.5
    label_smoothing: float = 0.0
    average_from_epoch: int = 0  # 0 = off; else also try the mean of the weights from this epoch on
    context_turns: int = 0  # >0: MELD utterances appear twice, with this many previous turns and alone
    intent_augment: float = 0.3  # share of Bitext utterances also trained with frustrated/polite framing
    weak_label_weight: float = 0.3  # loss weight of the framed copies' weak emotion/sentiment labels
    refund_paraphrase: float = 0.5  # share of get_refund utterances also trained as "my money back" paraphrases
    split_layer: int = SPLIT_LAYER
    device: str = "auto"
    annotation_repeat: int = 5  # supervisors' corrected turns (train_text's ``extra``) seen this many times an epoch
    teacher: str = ""  # teacher_probs.json from ``assist train teacher``: distil its emotion probabilities
    kd_weight: float = 0.5  # MELD turns: (1 - w) gold label + w teacher distribution
    kd_unlabelled_weight: float = 0.5  # GoEmotions texts: the teacher's MELD-style reading for the emotion head
    kd_temperature: float = 1.0
    # support traffic (issue 16): everyday dialogue emotion, airline customers' sentiment, rated task dialogues,
    # GoEmotions' single-label comments also for the conversation head, classes balanced, selection on the dev set
    dailydialog_neutral: int = 6000  # DailyDialog train turns without emotion kept (all emotional turns are kept)
    dailydialog_joy: int = 4000  # DailyDialog's happiness turns kept (11k would drown the rarer classes)
    airline: bool = True  # airline tweets' sentiment (the 90% not held out)
    satisfaction_neutral: int = 1500  # rated task turns: every dissatisfied/satisfied one, and this many neutral
    goemotions_conversation_weight: float = 0.5  # single-label GoEmotions comments also train the app's head
    class_balance: float = 0.5  # emotion loss weight per class: (count of the class) ** -class_balance, mean 1
    selection: str = "support"  # "support": dev set tuning turns' emotion macro-F1 + MELD valid; "meld": MELD only


@dataclass
class CachedExample:
    example: TextExample
    hidden: Any  # fp16 tensor (tokens, 384): output of the frozen bottom
    pool_len: int  # leading tokens that belong to the message (the rest is context)


def _sample(items: list[TextExample], limit: int, rng: random.Random) -> list[TextExample]:
    if limit <= 0 or len(items) <= limit:
        return list(items)
    return rng.sample(items, limit)


def cache_bottom(encoder: SplitMiniLM, examples: list[TextExample], state: ProgressState,
                 span: tuple[float, float], batch_size: int = 128) -> list[CachedExample]:
    """Run the frozen bottom once per example (sorted by length to avoid padding)."""
    import torch

    # with-context and without-context rows are encoded apart (as at inference)
    order = sorted(range(len(examples)), key=lambda i: (bool(examples[i].context), len(examples[i].text + examples[i].context)))
    cached: list[CachedExample | None] = [None] * len(examples)
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batches += [[i for i in idx if examples[i].context], [i for i in idx if not examples[i].context]]
    with torch.inference_mode():
        for done_batches, idx in enumerate(batches, start=1):
            if not idx:
                continue
            contexts = [model_input(examples[i].context) for i in idx] if examples[idx[0]].context else None
            batch = encoder.tokenize([model_input(examples[i].text) or "." for i in idx], contexts)  # as at run time
            hidden = encoder.bottom(batch).half().cpu()
            lengths = batch.attention_mask.sum(1).tolist()
            pools = batch.pool_mask.sum(1).tolist()
            for row, i in enumerate(idx):
                cached[i] = CachedExample(examples[i], hidden[row, : int(lengths[row])].clone(), int(pools[row]))
            done = done_batches / len(batches)
            state.set_progress(span[0] + (span[1] - span[0]) * done, "encoding (frozen layers)")
            if state.is_cancelled():
                raise KeyboardInterrupt("training cancelled")
    return [c for c in cached if c is not None]


def _pad(items: list[CachedExample], device: str) -> tuple[Any, Any, Any]:
    """Padded hidden states, attention mask (message + context) and pooling mask (message)."""
    import torch

    longest = max(c.hidden.shape[0] for c in items)
    hidden = torch.zeros(len(items), longest, items[0].hidden.shape[1])
    mask = torch.zeros(len(items), longest, dtype=torch.long)
    pool = torch.zeros(len(items), longest, dtype=torch.long)
    for row, c in enumerate(items):
        hidden[row, : c.hidden.shape[0]] = c.hidden.float()
        mask[row, : c.hidden.shape[0]] = 1
        pool[row, : c.pool_len] = 1
    return hidden.to(device), mask.to(device), pool.to(device)


def make_batches(items: list[Any], batch_size: int, rng: random.Random,
                 length: Callable[[Any], int] = lambda c: c.hidden.shape[0]) -> list[list[Any]]:
    """Length-bucketed batches in random order (similar lengths pad little)."""
    shuffled = items[:]
    rng.shuffle(shuffled)
    batches = []
    chunk = batch_size * 50
    for start in range(0, len(shuffled), chunk):
        block = sorted(shuffled[start : start + chunk], key=length)
        batches += [block[i : i + batch_size] for i in range(0, len(block), batch_size)]
    rng.shuffle(batches)
    return batches


def warmup_then_linear_decay(optimizer: Any, total_steps: int, warmup_share: float = 0.06) -> Any:
    """Learning rate up over the first 6 % of steps, then linearly down to 0."""
    import torch

    warmup = max(1, int(warmup_share * total_steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))


def class_weights(examples: list[TextExample], power: float) -> dict[int, float]:
    """Per emotion class, (its count among the conversation head's single-label examples) ** -power, scaled so the
    examples' mean weight is 1: fear and disgust (a few hundred turns) are not drowned by neutral."""
    counts = np.zeros(len(EKMAN_EMOTIONS))
    for e in examples:
        if e.source in CONVERSATION_SOURCES and len(e.emotions) == 1 or e.source == "goemotions" and len(e.emotions) == 1:
            counts[e.emotions[0]] += 1
    raw = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    mean = (raw * counts).sum() / max(1.0, counts.sum())
    return {i: float(raw[i] / mean) if mean > 0 else 1.0 for i in range(len(EKMAN_EMOTIONS))}


CONVERSATION_SOURCES = ("meld", "dailydialog", "annotation")  # and GoEmotions' single-label comments


def batch_loss(logits: dict[str, Any], batch: list[CachedExample], opts: TrainOptions,
               balance: dict[int, float] | None = None) -> Any:
    import torch
    import torch.nn.functional as F

    device = logits["emotion"].device
    total = torch.zeros((), device=device)
    # MELD, DailyDialog and GoEmotions' single-label comments train the conversation emotion head (the app's);
    # GoEmotions also its own multi-label head
    for head, source, weight in (("emotion", "meld", 1.0), ("emotion_goemotions", "goemotions", opts.goemotions_weight),
                                 ("emotion", "goemotions", opts.goemotions_conversation_weight),
                                 ("emotion", "dailydialog", 1.0),
                                 ("emotion", "bitext-augmented", opts.weak_label_weight), ("emotion", "annotation", 1.0)):
        if weight <= 0:
            continue
        emo_rows = [i for i, c in enumerate(batch) if c.example.emotions and c.example.source == source
                    and (head == "emotion_goemotions" or source != "goemotions" or len(c.example.emotions) == 1)]
        if not emo_rows:
            continue
        target = torch.zeros(len(emo_rows), len(EKMAN_EMOTIONS), device=device)
        for r, i in enumerate(emo_rows):
            ids = batch[i].example.emotions
            target[r, list(ids)] = 1.0 / len(ids)  # GoEmotions is multi-label: soft targets
        target = target * (1 - opts.label_smoothing) + opts.label_smoothing / len(EKMAN_EMOTIONS)
        logp = F.log_softmax(logits[head][emo_rows], dim=-1)
        # a MELD turn the teacher read keeps (1 - kd_weight) of its gold label; distillation_loss adds the rest
        weights = torch.tensor([(1.0 - opts.kd_weight if source == "meld" and opts.teacher and batch[i].example.soft_emotions
                                 else weight)
                                * (balance.get(batch[i].example.emotions[0], 1.0) if balance and head == "emotion" else 1.0)
                                for i in emo_rows], device=device)
        total = total + (weights * -(target * logp).sum(-1)).mean()
    total = total + distillation_loss(logits["emotion"], batch, opts)
    for task in ("sentiment", "intent"):
        rows = [i for i, c in enumerate(batch) if getattr(c.example, task) is not None]
        if rows:
            target = torch.tensor([getattr(batch[i].example, task) for i in rows], device=device)
            losses = F.cross_entropy(logits[task][rows], target, label_smoothing=opts.label_smoothing, reduction="none")
            if task == "sentiment":  # the framed copies' and the rated task turns' sentiment are weak labels
                weights = torch.tensor([opts.weak_label_weight if batch[i].example.source in ("bitext-augmented",
                                                                                                "satisfaction") else 1.0
                                        for i in rows], device=device)
                losses = losses * weights
            total = total + losses.mean()
    return total


def distillation_loss(logits: Any, batch: list[CachedExample], opts: TrainOptions) -> Any:
    """Soft cross-entropy to the teacher's emotion distribution (Hinton et al. 2015), scaled by T^2."""
    import torch
    import torch.nn.functional as F

    total = torch.zeros((), device=logits.device)
    t = opts.kd_temperature
    for source, weight in (("meld", opts.kd_weight), ("goemotions", opts.kd_unlabelled_weight)):
        rows = [i for i, c in enumerate(batch) if c.example.source == source and c.example.soft_emotions]
        if not rows or weight <= 0:
            continue
        teacher = torch.tensor([batch[i].example.soft_emotions for i in rows], device=logits.device)
        target = torch.softmax(torch.log(teacher.clamp_min(1e-8)) / t, dim=-1)
        logp = F.log_softmax(logits[rows] / t, dim=-1)
        total = total + weight * t * t * (-(target * logp).sum(-1)).mean()
    return total


def predict_cached(tuned: Any, heads: Any, items: list[CachedExample], device: str) -> dict[str, np.ndarray]:
    import torch

    tuned.eval(), heads.eval()
    out: dict[str, list[np.ndarray]] = {"emotion": [], "emotion_goemotions": [], "sentiment": [], "intent": []}
    order = sorted(range(len(items)), key=lambda i: items[i].hidden.shape[0])
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            idx = order[start : start + 128]
            hidden, mask, pool = _pad([items[i] for i in idx], device)
            logits = heads(mean_pool(run_layers(tuned, hidden, mask), pool))
            for k in out:
                out[k].append(torch.softmax(logits[k], -1).cpu().numpy())
    inverse = np.argsort(np.array(order))
    return {k: np.concatenate(v)[inverse] for k, v in out.items()}


def _selection_score(tuned: Any, heads: Any, valid: list[CachedExample], device: str,
                     selection: str = "meld") -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    probs = predict_cached(tuned, heads, valid, device)
    meld = [i for i, c in enumerate(valid) if c.example.source == "meld"]
    bitext = [i for i, c in enumerate(valid) if c.example.source == "bitext"]
    emo_f1 = f1_score([valid[i].example.emotions[0] for i in meld], probs["emotion"][meld].argmax(1),
                      average="weighted")
    intent_acc = accuracy_score([valid[i].example.intent for i in bitext], probs["intent"][bitext].argmax(1))
    scores = {"meld_valid_emotion_wf1": float(emo_f1), "bitext_dev_intent_acc": float(intent_acc)}
    tune = [i for i, c in enumerate(valid) if c.example.source == "devset-tune"]
    if tune:
        scores["devset_tune_emotion_macro_f1"] = float(f1_score(
            [valid[i].example.emotions[0] for i in tune], probs["emotion"][tune].argmax(1), average="macro",
            labels=list(range(len(EKMAN_EMOTIONS))), zero_division=0))
    scores["selection"] = (0.5 * scores.get("devset_tune_emotion_macro_f1", emo_f1) + 0.5 * emo_f1
                           if selection == "support" else emo_f1)
    return scores


def _snapshot(module: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _mean(states: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: sum(s[k].float() for s in states) / len(states) for k in states[0]}


def draw_examples(data_dir: Path, opts: TrainOptions, rng: random.Random) -> tuple[list[TextExample],
                                                                                  list[TextExample]]:
    """The training and selection examples of one run; the same seed draws the same ones (``train teacher``
    labels exactly these texts)."""
    meld_train, meld_valid = split_meld_train(load_meld(data_dir, "train", opts.context_turns))
    bitext = load_bitext(data_dir)
    if opts.meld_folds > 0:
        meld_train = [e for e in meld_train if meld_fold_of(e.dialogue, opts.meld_folds) != opts.meld_fold]
    meld_train = _sample(meld_train, opts.meld_limit, rng)
    if opts.context_turns:
        meld_train = meld_train + [replace(e, context="") for e in meld_train if e.context]
    bitext_train = _sample(bitext["train"], opts.bitext_limit, rng)
    train = (meld_train + _sample(load_goemotions(data_dir, "train"), opts.goemotions_limit, rng)
             + bitext_train + augment_intents(bitext_train, rng, opts.intent_augment)
             + paraphrase_refunds(bitext_train, rng, opts.refund_paraphrase))
    train += support_examples(data_dir, opts, rng)
    valid = meld_valid + _sample(bitext["dev"], 1000, rng)
    if opts.selection == "support":
        valid += devset_tune_examples()
    return train, valid


def support_examples(data_dir: Path, opts: TrainOptions, rng: random.Random) -> list[TextExample]:
    """DailyDialog's emotional turns (and a sample of its neutral ones and of its many joyful ones), with a sentiment
    derived from the emotion; the airline tweets' training part; rated task turns' (weak) sentiment."""
    out: list[TextExample] = []
    if opts.dailydialog_neutral or opts.dailydialog_joy:
        neutral, joy = EKMAN_EMOTIONS.index("neutral"), EKMAN_EMOTIONS.index("joy")
        daily = load_dailydialog(data_dir, "train", opts.context_turns)
        by_class: dict[str, list[TextExample]] = {"neutral": [], "joy": [], "other": []}
        for e in daily:
            by_class["neutral" if e.emotions[0] == neutral else "joy" if e.emotions[0] == joy else "other"].append(e)
        chosen = (_sample(by_class["neutral"], opts.dailydialog_neutral, rng)
                  + _sample(by_class["joy"], opts.dailydialog_joy, rng) + by_class["other"])
        polarity = {"anger": "negative", "disgust": "negative", "fear": "negative", "sadness": "negative",
                    "joy": "positive", "neutral": "neutral"}
        for e in chosen:
            label = polarity.get(EKMAN_EMOTIONS[e.emotions[0]])
            out.append(replace(e, sentiment=SENTIMENTS.index(label) if label else None))
    if opts.airline:
        out += load_airline(data_dir, "train")
    if opts.satisfaction_neutral:
        rated = load_satisfaction(data_dir)
        neutral_id = SENTIMENTS.index("neutral")
        out += [e for e in rated if e.sentiment != neutral_id]
        out += _sample([e for e in rated if e.sentiment == neutral_id], opts.satisfaction_neutral, rng)
    return out


def devset_tune_examples() -> list[TextExample]:
    """The development set's tuning turns (never its test part), for choosing the epoch: each customer turn with
    its emotion label. Nothing of the dev set is trained on."""
    from assist.training.eval_conversations import ConversationFileError, load_conversations

    try:
        conversations = load_conversations()
    except ConversationFileError:
        return []
    return [TextExample(turn.text, "devset-tune", emotions=(EKMAN_EMOTIONS.index(turn.labels["emotion"]),))
            for conv in conversations if conv.split == "tune"
            for turn in conv.turns if turn.role == "customer" and turn.labels]


def train_text(data_dir: Path, out_dir: Path, opts: TrainOptions | None = None,
               state: ProgressState | None = None, extra: list[TextExample] | None = None) -> dict[str, Any]:
    """Train and save the text model; returns a summary (selection scores, sizes, seconds).

    ``extra``: more labelled turns, e.g. supervisors' corrections of the app's own customer turns (source
    "annotation": emotion for the conversation head, intent), repeated ``opts.annotation_repeat`` times, so the
    heads adapt to this team's customers (on-prem learning from corrections).
    """
    import time

    import torch

    opts = opts or TrainOptions()
    state = state or ProgressState()
    began = time.time()
    random.seed(opts.seed), np.random.seed(opts.seed), torch.manual_seed(opts.seed)
    rng = random.Random(opts.seed)
    device = pick_device(opts.device)

    state.set_progress(0.0, "reading data")
    train, valid = draw_examples(data_dir, opts, rng)
    train += list(extra or []) * max(1, opts.annotation_repeat)
    distilled = attach_teacher(train, opts.teacher) if opts.teacher else 0

    encoder = SplitMiniLM(None, device, split=opts.split_layer)
    cached_train = cache_bottom(encoder, train, state, (0.0, 0.25))
    cached_valid = cache_bottom(encoder, valid, state, (0.25, 0.3))
    cached_train += [c for c in cached_train if c.example.source == "meld"] * (opts.meld_repeat - 1)

    balance = class_weights([c.example for c in cached_train], opts.class_balance) if opts.class_balance else None
    tuned, heads = encoder.make_tuned_layers(), build_heads().to(device)
    optimizer = torch.optim.AdamW(
        [{"params": tuned.parameters(), "lr": opts.lr_layers}, {"params": heads.parameters(), "lr": opts.lr_heads}],
        weight_decay=0.01,
    )
    steps_per_epoch = math.ceil(len(cached_train) / opts.batch_size)
    total_steps = steps_per_epoch * opts.epochs
    scheduler = warmup_then_linear_decay(optimizer, total_steps)
    best: tuple[float, dict[str, Any], dict[str, Any]] | None = None
    snapshots: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    history = []
    step = 0
    for epoch in range(opts.epochs):
        tuned.train(), heads.train()
        for batch in make_batches(cached_train, opts.batch_size, rng):
            hidden, mask, pool = _pad(batch, device)
            loss = batch_loss(heads(mean_pool(run_layers(tuned, hidden, mask), pool)), batch, opts, balance)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(tuned.parameters()) + list(heads.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 20 == 0:
                state.set_progress(0.3 + 0.7 * step / total_steps, f"epoch {epoch + 1}/{opts.epochs} loss {loss.item():.3f}")
            if state.is_cancelled():
                raise KeyboardInterrupt("training cancelled")
        candidates = [(f"epoch {epoch + 1}", _snapshot(tuned), _snapshot(heads))]
        if opts.average_from_epoch and epoch + 1 >= opts.average_from_epoch:
            snapshots.append(candidates[0])
            if len(snapshots) > 1:
                candidates.append((f"mean of epochs {opts.average_from_epoch}-{epoch + 1}",
                                   _mean([s[1] for s in snapshots]), _mean([s[2] for s in snapshots])))
        for name, tuned_state, heads_state in candidates:
            tuned.load_state_dict(tuned_state), heads.load_state_dict(heads_state)
            scores = _selection_score(tuned, heads, cached_valid, device, opts.selection) | {"candidate": name}
            history.append(scores)
            if best is None or scores["selection"] > best[0]:
                best = (scores["selection"], tuned_state, heads_state)
        tuned.load_state_dict(candidates[0][1]), heads.load_state_dict(candidates[0][2])
    assert best is not None
    tuned.load_state_dict(best[1]), heads.load_state_dict(best[2])
    summary = {
        "version": "text-" + dt.datetime.now().strftime("%Y%m%d-%H%M"),
        "context_turns": opts.context_turns,
        "text_normalisation": NORMALISATION_VERSION,  # assist.inference.chat_text.model_input, as at run time
        "trained_at": dt.datetime.now().isoformat(timespec="seconds"),
        "seed": opts.seed,
        "options": {k: v for k, v in vars(opts).items()},
        "train_examples": {"meld": sum(c.example.source == "meld" for c in cached_train),
                           "goemotions": sum(c.example.source == "goemotions" for c in cached_train),
                           "bitext": sum(c.example.source == "bitext" for c in cached_train),
                           "bitext_augmented": sum(c.example.source == "bitext-augmented" for c in cached_train),
                           "bitext_paraphrased": sum(c.example.source == "bitext-paraphrased" for c in cached_train),
                           "annotation": sum(c.example.source == "annotation" for c in cached_train),
                           "dailydialog": sum(c.example.source == "dailydialog" for c in cached_train),
                           "airline": sum(c.example.source == "airline" for c in cached_train),
                           "satisfaction": sum(c.example.source == "satisfaction" for c in cached_train),
                           "class_weights": {EKMAN_EMOTIONS[k]: round(v, 3) for k, v in (balance or {}).items()},
                           "with_teacher_probs": distilled},
        "selection_history": history,
        "train_seconds": round(time.time() - began, 1),
        "train_device": device,
        "torch_threads": torch.get_num_threads(),
    }
    save_model(out_dir, tuned, heads, opts.split_layer, summary)
    state.set_progress(0.98, "exporting ONNX (int8)")
    from assist.inference.text_onnx import export_text_onnx, record_export

    export_started = time.time()
    record_export(out_dir, export_text_onnx(out_dir))
    summary["onnx_export_seconds"] = round(time.time() - export_started, 1)
    state.set_progress(0.99, "fitting the conversation prior")  # the old one was fitted for the old model
    from assist.inference.text_onnx import load_text_model
    from assist.training.dialogue_prior import fit_dialogue_prior

    summary["dialogue_prior"] = fit_dialogue_prior(load_text_model(out_dir, backend="onnx", device="cpu"),
                                                   data_dir)["about"]["meld_dev"]
    state.set_progress(1.0, "saved")
    return summary
