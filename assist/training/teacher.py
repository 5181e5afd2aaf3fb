"""``assist train teacher``: a larger encoder fine-tuned on MELD, whose soft labels teach the app's text model.

The app's text model must stay small (all-MiniLM-L6-v2: int8 on one CPU core in ~5 ms). A bigger encoder reads
MELD better but is too slow and too large to ship; here it only *teaches*: it is fine-tuned on the same MELD
train dialogues as the app's model (the same held-out dialogues left out for selection), then it writes its
emotion probabilities for every text the student trains on (``teacher_probs.json``: a hash of the text -> 7
probabilities; no data-set text is stored).
``assist train text --set teacher=FILE`` adds them to the student's loss (knowledge distillation, Hinton et al.
2015): MELD turns learn from the teacher's distribution as well as their gold label, and the GoEmotions texts
sampled for training also get the teacher's MELD-style reading for the conversation head.

The teacher is any transformers encoder in a local folder (``--encoder DIR``); it is not shipped. The one measured
here is all-mpnet-base-v2 (models/text/MODEL_CARD.md, "Distillation from a larger encoder": where it comes from and
why the release is not distilled from it).
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, ProgressState
from assist.inference.encoder import pick_device
from assist.training.data import load_meld, split_meld_train
from assist.training.distillation import TEACHER_PROBS, text_key


@dataclass
class TeacherOptions:
    seed: int = 7
    epochs: int = 3
    batch_size: int = 16
    lr: float = 2e-5
    lr_heads: float = 1e-3
    freeze_layers: int = 0  # embeddings and this many lowest layers stay frozen
    max_tokens: int = 64
    meld_limit: int = 0
    student_seed: int = 7  # label the GoEmotions texts that ``train text --seed N`` draws
    student_goemotions_limit: int = 8000
    threads: int = 0  # 0 = torch's default
    device: str = "auto"  # CUDA when present


def _mean_pool(hidden: Any, mask: Any) -> Any:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class Teacher:
    """Encoder + mean pooling + emotion and sentiment heads."""

    def __init__(self, encoder_dir: Path, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
        self.encoder = AutoModel.from_pretrained(str(encoder_dir)).to(device)
        width = self.encoder.config.hidden_size
        self.heads = torch.nn.ModuleDict({
            "emotion": torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(width, len(EKMAN_EMOTIONS))),
            "sentiment": torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(width, len(SENTIMENTS))),
        }).to(device)
        self.device = device

    def logits(self, texts: list[str], max_tokens: int) -> dict[str, Any]:
        batch = self.tokenizer([t or "." for t in texts], padding=True, truncation=True, max_length=max_tokens,
                               return_tensors="pt").to(self.device)
        hidden = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        pooled = _mean_pool(hidden, batch["attention_mask"])
        return {k: head(pooled) for k, head in self.heads.items()}

    def probs(self, texts: list[str], max_tokens: int, batch_size: int = 64,
              state: ProgressState | None = None, span: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
        import torch

        self.encoder.eval(), self.heads.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), len(EKMAN_EMOTIONS)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                logits = self.logits([texts[i] for i in idx], max_tokens)["emotion"]
                out[idx] = torch.softmax(logits.float(), -1).cpu().numpy()
                if state is not None:
                    done = min(1.0, (start + batch_size) / max(1, len(order)))
                    state.set_progress(span[0] + (span[1] - span[0]) * done, "teacher labelling")
        return out


def student_texts(data_dir: Path, student: Any = None) -> list[str]:
    """Every MELD train text, and the GoEmotions texts that ``train text`` with these options (its seed and
    limits; default: the release recipe) draws."""
    from assist.training.train_text import TrainOptions, draw_examples

    student = student or TrainOptions()
    drawn, _ = draw_examples(data_dir, student, random.Random(student.seed))
    meld = [e.text for e in load_meld(data_dir, "train", 0)]
    return sorted(set(meld + [e.text for e in drawn if e.source == "goemotions"]))


def train_teacher(data_dir: Path, encoder_dir: Path, out_dir: Path, opts: TeacherOptions | None = None,
                  state: ProgressState | None = None) -> dict[str, Any]:
    """Fine-tune the teacher on MELD train (held-out dialogues for selection), write its soft labels."""
    import torch
    import torch.nn.functional as F
    from sklearn.metrics import f1_score

    from assist.training.train_text import TrainOptions, make_batches, warmup_then_linear_decay

    opts = opts or TeacherOptions()
    state = state or ProgressState()
    began = time.time()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    random.seed(opts.seed), np.random.seed(opts.seed), torch.manual_seed(opts.seed)
    rng = random.Random(opts.seed)
    out_dir.mkdir(parents=True, exist_ok=True)

    train, valid = split_meld_train(load_meld(data_dir, "train", 0))
    if opts.meld_limit:
        train = rng.sample(train, min(opts.meld_limit, len(train)))
    device = pick_device(opts.device)
    teacher = Teacher(encoder_dir, device)
    if opts.freeze_layers:  # BERT-style models (BERT, RoBERTa, MPNet): embeddings + encoder.layer
        for module in [teacher.encoder.embeddings, *teacher.encoder.encoder.layer[: opts.freeze_layers]]:
            for p in module.parameters():
                p.requires_grad_(False)
    params = [p for p in teacher.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": params, "lr": opts.lr},
                                   {"params": teacher.heads.parameters(), "lr": opts.lr_heads}], weight_decay=0.01)
    steps = math.ceil(len(train) / opts.batch_size) * opts.epochs
    scheduler = warmup_then_linear_decay(optimizer, steps)
    valid_texts, valid_gold = [e.text for e in valid], [e.emotions[0] for e in valid]
    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    step = 0
    for epoch in range(opts.epochs):
        teacher.encoder.train(), teacher.heads.train()
        for batch in make_batches(train, opts.batch_size, rng, length=lambda e: len(e.text)):
            logits = teacher.logits([e.text for e in batch], opts.max_tokens)
            emotion = torch.tensor([e.emotions[0] for e in batch], device=device)
            sentiment = torch.tensor([e.sentiment for e in batch], device=device)
            loss = F.cross_entropy(logits["emotion"], emotion) + 0.5 * F.cross_entropy(logits["sentiment"], sentiment)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params + list(teacher.heads.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 10 == 0:
                state.set_progress(0.85 * step / steps, f"teacher epoch {epoch + 1}/{opts.epochs} loss {loss.item():.3f}")
            if state.is_cancelled():
                raise KeyboardInterrupt("training cancelled")
        probs = teacher.probs(valid_texts, opts.max_tokens)
        score = float(f1_score(valid_gold, probs.argmax(1), average="weighted"))
        history.append({"epoch": epoch + 1, "meld_valid_emotion_wf1": round(score, 4),
                        "seconds": round(time.time() - began, 1)})
        if best is None or score > best[0]:
            best = (score, {k: v.detach().clone() for k, v in
                            {**teacher.encoder.state_dict(), **{f"heads.{k}": v for k, v in
                                                                teacher.heads.state_dict().items()}}.items()})
    assert best is not None
    teacher.encoder.load_state_dict({k: v for k, v in best[1].items() if not k.startswith("heads.")})
    teacher.heads.load_state_dict({k[len("heads."):]: v for k, v in best[1].items() if k.startswith("heads.")})

    texts = student_texts(data_dir, TrainOptions(seed=opts.student_seed, goemotions_limit=opts.student_goemotions_limit))
    probs = teacher.probs(texts, opts.max_tokens, state=state, span=(0.85, 0.97))
    dev = load_meld(data_dir, "dev", 0)
    dev_probs = teacher.probs([e.text for e in dev], opts.max_tokens)
    dev_f1 = float(f1_score([e.emotions[0] for e in dev], dev_probs.argmax(1), average="weighted"))
    about = {
        "encoder": str(encoder_dir),
        "options": vars(opts),
        "selection_history": history,
        "meld_valid_emotion_wf1": round(best[0], 4),
        "meld_dev_emotion_wf1": round(dev_f1, 4),  # reported only; nothing is chosen on it
        "texts": len(texts),
        "train_seconds": round(time.time() - began, 1),
        "train_device": device,
        "labels": list(EKMAN_EMOTIONS),
    }
    payload = {"about": about,
               "probs": {text_key(t): [round(float(x), 5) for x in row] for t, row in zip(texts, probs)}}
    (out_dir / TEACHER_PROBS).write_text(json.dumps(payload))
    state.set_progress(1.0, "saved")
    return about


