"""Generative drafting: a tiny random causal LM built here, loaded and streamed by LocalLLM; the grounding guard."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assist.inference.errors import BadInput, ModelUnavailable
from assist.replies.drafting import Passage, build_prompt, check_draft, extract_claims

SENTENCES = [
    "I am sorry about the delay with your order",
    "refunds are issued to the original payment method within 5 business days",
    "we will check the tracking number and get back to you",
    "your replacement ships today and arrives in three days",
    "please confirm the email address on the account",
    "the package was delivered to the front desk yesterday",
    "thank you for waiting while I look into this",
    "you can return any item within 30 days for a full refund",
    "our team will review the damaged item photos",
    "let me verify your identity before we continue",
]
PASSAGES = [
    Passage("kb-7", "Refund policy", "Refunds are issued to the original payment method within 5-7 business days "
                                     "after the return is received."),
    Passage("kb-9", "Shipping times", "Standard shipping takes 3 to 5 days. Members get 10% off express shipping."),
]


def build_tiny_model(folder: Path, always_eos: bool = False) -> Path:
    """A 2-layer GPT-2 with a word-level tokenizer trained on a few sentences, saved like any checkpoint."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[EOS]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    config = GPT2Config(n_layer=2, n_head=2, n_embd=64, n_positions=2048, vocab_size=len(tokenizer),
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        embeddings = model.transformer.wte.weight  # tied with the output layer: a row is also a token's logit
        specials = [tokenizer.unk_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id]
        if always_eos:  # every position's output is the end token: the draft ends by itself at once
            model.transformer.ln_f.weight.zero_()
            model.transformer.ln_f.bias.fill_(1.0)
            embeddings[tokenizer.eos_token_id] = 1.0
        else:  # special tokens score 0, below the best word: drafts run to a limit and every token is text
            embeddings[specials] = 0.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny-gpt2")


@pytest.fixture(scope="module")
def llm(tiny_dir: Path):
    from assist.inference.llm import LocalLLM

    return LocalLLM(tiny_dir, device="cpu")


@pytest.fixture
def copy_of(tiny_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_dir, tmp_path / "copy"))


# ---- LocalLLM on the real code path ------------------------------------------------------------

def test_loads_on_cpu_and_reports_it(llm) -> None:
    assert llm.device == "cpu" and llm.dtype_name == "float32"
    assert "cpu float32" in llm.describe() and llm.parameters > 10_000


def test_streams_chunks_until_max_tokens(llm) -> None:
    stream = llm.stream("we will check the order", max_new_tokens=12, time_budget_s=None)
    chunks = list(stream)
    result = stream.result
    assert len(chunks) >= 3  # text arrives piece by piece, not at the end
    assert result.stopped == "max_tokens" and result.tokens == 12
    assert result.text == "".join(chunks).strip()
    assert 0 < result.first_token_s <= result.total_s and result.device == "cpu"


def test_generate_from_grounded_prompt_uses_plain_script_without_chat_template(llm) -> None:
    messages = build_prompt(["where is my refund"], PASSAGES, "anger", "get_refund")
    rendered = llm.render_prompt(messages)
    assert rendered.startswith("System: You draft replies") and rendered.endswith("Assistant:")
    result = llm.generate(messages, max_new_tokens=5, time_budget_s=None)
    assert result.tokens == 5 and result.text
    check = check_draft(result.text, PASSAGES)  # random words: no citation, and the guard says so
    assert check.uncited and not check.ok


def test_chat_template_is_used_and_system_role_folded_when_refused(llm) -> None:
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": "hello"}]
    try:
        llm.tokenizer.chat_template = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                                       "{% if add_generation_prompt %}<assistant>{% endif %}")
        assert llm.render_prompt(messages) == "<system>rules<user>hello<assistant>"
        llm.tokenizer.chat_template = ("{% if messages[0].role == 'system' %}{{ raise_exception('no system') }}"
                                       "{% endif %}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
        assert llm.render_prompt(messages) == "<user>rules\n\nhello"
    finally:
        llm.tokenizer.chat_template = None


def test_cancel_stops_mid_stream_promptly(llm) -> None:
    cancel = threading.Event()
    stream = llm.stream("thank you for waiting", max_new_tokens=1500, time_budget_s=None, cancel=cancel)
    cancelled_at = None
    for count, _ in enumerate(stream, start=1):
        if count == 3:
            cancel.set()
            cancelled_at = time.perf_counter()
    assert time.perf_counter() - cancelled_at < 0.5
    assert stream.result.stopped == "cancelled" and 3 <= stream.result.tokens < 100
    assert stream.result.note == "draft cancelled"


def test_closing_the_stream_stops_the_model_thread(llm) -> None:
    stream = llm.stream("please confirm the email", max_new_tokens=1500, time_budget_s=None)
    next(stream), next(stream)
    stream.close()
    assert not stream._thread.is_alive()
    assert stream.result.stopped == "cancelled" and stream.result.tokens < 100


def test_time_budget_stops_early_and_says_so(llm) -> None:
    result = llm.generate("let me verify your identity", max_new_tokens=1500, time_budget_s=0.05)
    assert result.stopped == "time_budget" and result.tokens < 1500
    assert result.total_s < 1.0 and "time budget" in result.note


def test_end_token_finishes_the_draft(tmp_path: Path) -> None:
    from assist.inference.llm import LocalLLM

    result = LocalLLM(build_tiny_model(tmp_path / "eos", always_eos=True), device="cpu").generate("hello", max_new_tokens=50)
    assert result.stopped == "done" and result.tokens == 1 and result.text == "" and result.note == ""


def test_bad_prompts(llm) -> None:
    with pytest.raises(BadInput, match="empty"):
        llm.stream("   ")
    with pytest.raises(BadInput, match="at most 2048"):
        llm.stream("order " * 3000)
    with pytest.raises(BadInput, match="at least 1"):
        llm.stream("hello", max_new_tokens=0)


# ---- what a person sees when the model cannot be used -------------------------------------------

def load(folder: Path | str, **kwargs):
    from assist.inference.llm import LocalLLM

    return LocalLLM(folder, device="cpu", **kwargs)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load(tmp_path / "no-such-model")


@pytest.mark.parametrize(("remove", "message"), [
    ("model.safetensors", "incomplete: no weights"),
    ("tokenizer.json", "incomplete: no tokenizer"),
    ("config.json", "incomplete: config.json is missing"),
])
def test_incomplete_folder(copy_of: Path, remove: str, message: str) -> None:
    (copy_of / remove).unlink()
    with pytest.raises(ModelUnavailable, match=message):
        load(copy_of)


def test_missing_shard_of_a_sharded_checkpoint(copy_of: Path) -> None:
    (copy_of / "model.safetensors").rename(copy_of / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (copy_of / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelUnavailable, match="1 of 2 weight files are missing"):
        load(copy_of)


def test_corrupt_and_truncated_weights(copy_of: Path) -> None:
    weights = copy_of / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelUnavailable, match="cut short"):
        load(copy_of)
    weights.write_bytes(b"\xff" * 64 + data[64:])
    with pytest.raises(ModelUnavailable, match="corrupt"):
        load(copy_of)


def test_unknown_architecture(copy_of: Path) -> None:
    config = json.loads((copy_of / "config.json").read_text())
    (copy_of / "config.json").write_text(json.dumps({**config, "model_type": "no-such-architecture"}))
    with pytest.raises(ModelUnavailable, match="could not be loaded"):
        load(copy_of)


def test_too_big_for_memory(tiny_dir: Path) -> None:
    asked: list[str] = []

    def tiny_memory(device: str) -> int:  # test double for the /proc/meminfo or CUDA probe
        asked.append(device)
        return 100_000

    with pytest.raises(ModelUnavailable, match=r"too big for this computer: it needs about .* GB"):
        load(tiny_dir, memory_probe=tiny_memory)
    assert asked == ["cpu"]


def test_hub_id_without_internet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelUnavailable, match="not downloaded; downloads are off"):
        load("some-org/some-instruct-model", cache_dir=tmp_path)
    with pytest.raises(ModelUnavailable, match="Could not download some-org/some-instruct-model"):
        load("some-org/some-instruct-model", cache_dir=tmp_path, allow_download=True)


def test_cuda_asked_for_without_one(tiny_dir: Path) -> None:
    import torch

    from assist.inference.llm import LocalLLM

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelUnavailable, match="no CUDA device"):
        LocalLLM(tiny_dir, device="cuda")


def test_real_memory_probe_reads_this_machine() -> None:
    from assist.inference.llm_checks import available_memory

    free = available_memory("cpu")
    assert free is None or free > 10 * 1024**2


def test_modules_do_not_import_torch() -> None:
    code = ("import sys, assist.replies.drafting, assist.inference.llm; "
            "print(sorted({'torch', 'transformers'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


# ---- the grounded prompt ---------------------------------------------------------------------

def test_prompt_numbers_passages_and_states_the_rules() -> None:
    system, user = build_prompt(["Hi", "This is the third time, I want my money back"], PASSAGES, "anger", "refund")
    assert system["role"] == "system" and user["role"] == "user"
    assert "ONLY" in system["content"] and "[1], [2]" in system["content"]
    assert "say you will check" in system["content"] and "acknowledges how they feel" in system["content"]
    assert "[1] Refund policy\nRefunds are issued" in user["content"] and "[2] Shipping times" in user["content"]
    assert '"This is the third time, I want my money back"' in user["content"] and "intent: refund" in user["content"]


def test_prompt_without_strong_feeling_or_passages() -> None:
    system, user = build_prompt(["where is it"], [], "neutral", None)
    assert "acknowledges" not in system["content"]
    assert "(none found: say you will check)" in user["content"]
    many = [Passage(str(i), f"T{i}", "text") for i in range(9)]
    assert "[5] T4" in build_prompt(["x"], many, None, None)[1]["content"]
    assert "[6]" not in build_prompt(["x"], many, None, None)[1]["content"]


# ---- the refusal-to-promise guard ------------------------------------------------------------

def test_unsupported_time_frame_is_flagged() -> None:
    check = check_draft("I'm sorry about this. We will refund you within 24 hours [1].", PASSAGES)
    assert check.citations == [1] and not check.uncited
    assert check.unsupported == ["24 hours"] and "'24 hours'" in check.warning()


def test_supported_promise_passes() -> None:
    check = check_draft("I'm sorry! Your refund will reach your card within 5-7 business days [1].", PASSAGES)
    assert check.ok and check.unsupported == [] and check.warning() == ""


def test_same_number_in_another_unit_or_uncited_passage_is_not_support() -> None:
    assert check_draft("We will refund you within 5 days [1].", PASSAGES).unsupported == ["5 days"]
    # "3 to 5 days" is in passage 2, but the draft cites only passage 1
    assert check_draft("It ships in 3-5 days [1].", PASSAGES).unsupported == ["3-5 days"]
    assert check_draft("It ships in 3-5 days [2].", PASSAGES).ok


def test_remedies_need_a_cited_passage_that_names_them() -> None:
    check = check_draft("We guarantee delivery by Friday and will send a replacement [2].", PASSAGES)
    assert check.unsupported == ["by Friday", "replacement", "guarantee"]
    assert check_draft("You are eligible for a refund [1].", PASSAGES).ok


def test_refusals_and_harmless_words_are_not_promises() -> None:
    check = check_draft("I can't promise a refund, but I will check with the team and get back to you.", PASSAGES)
    assert check.unsupported == [] and check.uncited
    assert check_draft("Feel free to reply; we will charge your credit card only once [1].", PASSAGES).ok
    assert check_draft("How can I help you today? [2]", PASSAGES).ok


def test_amounts_percentages_and_citations() -> None:
    check = check_draft("Members get 10% off [2], and we will add a $20 credit [1][2].", PASSAGES)
    assert check.citations == [1, 2] and check.unsupported == ["$20", "credit"]
    charged = check_draft("You were charged $40.00 twice; we will refund the duplicate [1].", PASSAGES,
                          conversation=["I was charged 40 dollars twice!"])
    assert charged.ok  # the amount is the customer's own, the refund is in passage 1
    assert check_draft("See [1, 9].", PASSAGES).unsupported == ["[9]"]


def test_claims_are_normalised() -> None:
    claims = extract_claims("Ships March 3rd (2024-03-03, 3/3) at 5 p.m. or 17:00, in twenty-four hours, 1,000.50 USD")
    keys = {(c.kind, c.unit, min(c.values)) for c in claims}
    assert keys == {("date", "", "mar 3"), ("time", "", "17:00"), ("duration", "hour", "24"),
                    ("amount", "USD", "1000.5")}
    assert len(claims) == 7
