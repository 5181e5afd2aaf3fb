"""An optional local causal language model that drafts replies, streamed token by token.

Any transformers checkpoint folder works (``models/llm/<name>``, or a path from settings), or a hub id
where the user's machine has internet (``allow_download=True``; otherwise only the local hub cache is
read). Nothing ships by default: without a model the drafting feature is absent.

Generation runs ``model.generate`` in a background thread and hands text to the caller through
``TextIteratorStreamer``; a stopping criterion checked after every token ends it on cancel, on the time
budget, or when the caller stops reading, so a draft stops within one token of being cancelled.
torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assist.inference.errors import BadInput, InferenceError, ModelUnavailable
from assist.inference.llm_checks import MemoryProbe, available_memory, inspect_folder, memory_needed, memory_problem
from assist.paths import model_dir

StopReason = Literal["done", "cancelled", "time_budget", "max_tokens"]
Prompt = str | Sequence[Mapping[str, str]]
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*.tiktoken", "*.jinja"]
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def default_llm_dir() -> Path:
    """Where language-model folders are looked for by name (``models/llm``)."""
    return model_dir("llm")


def installed_llms(root: Path | None = None) -> list[Path]:
    """Model folders under ``models/llm`` (those with a config.json), by name."""
    root = root or default_llm_dir()
    return sorted(p for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def configured_llm_source(setting: str | None = None) -> str | None:
    """The model to load: the one named in settings, else the first folder in ``models/llm``, else None."""
    if setting:
        return setting
    found = installed_llms()
    return str(found[0]) if found else None


@dataclass(frozen=True)
class DraftResult:
    """One finished draft and how it ended."""

    text: str
    tokens: int
    first_token_s: float | None  # None when no token came
    total_s: float
    stopped: StopReason
    device: str

    @property
    def note(self) -> str:
        """A few words for the suggestion card when the draft did not finish by itself."""
        return {"cancelled": "draft cancelled", "time_budget": "draft cut short: time budget reached",
                "max_tokens": "draft cut at the length limit"}.get(self.stopped, "")


class LocalLLM:
    """Loads a local causal LM after checking it is complete and fits, and streams drafts from it."""

    def __init__(self, source: str | Path, device: str = "auto", allow_download: bool = False,
                 memory_probe: MemoryProbe = available_memory, cache_dir: str | Path | None = None) -> None:
        self.source = str(source)
        self.folder = resolve_folder(self.source, allow_download, cache_dir)
        report = inspect_folder(self.folder)
        self.parameters = report.parameters
        self.device, self.dtype_name, self.device_note = pick_llm_device(device, report.parameters, memory_probe)
        self.tokenizer, self.model = _load(self.folder, self.device, self.dtype_name)
        self._lock = threading.Lock()  # one generation at a time: the model is not re-entrant
        config = self.model.config
        self.context_tokens = int(getattr(config, "max_position_embeddings", 0) or getattr(config, "n_positions", 0)
                                  or 2048)

    @property
    def name(self) -> str:
        return self.folder.name

    def describe(self) -> str:
        """Model, size and where it runs, for the status bar."""
        text = f"{self.name} ({self.parameters / 1e6:,.0f}M parameters, {self.device} {self.dtype_name})"
        return f"{text}; {self.device_note}" if self.device_note else text

    def render_prompt(self, prompt: Prompt) -> str:
        """Messages through the tokenizer's chat template when it has one, else a plain "Role: text" script."""
        if isinstance(prompt, str):
            return prompt
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]
        if getattr(self.tokenizer, "chat_template", None):
            try:
                return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            except Exception:  # noqa: BLE001 - some templates refuse a system role: fold it into the user turn
                return self.tokenizer.apply_chat_template(_fold_system(messages), tokenize=False,
                                                          add_generation_prompt=True)
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n\n".join([*lines, "Assistant:"])

    def stream(self, prompt: Prompt, max_new_tokens: int = 200, time_budget_s: float | None = 20.0,
               cancel: threading.Event | None = None) -> DraftStream:
        """Start drafting; iterate the returned stream for text chunks, then read its ``result``."""
        if max_new_tokens < 1:
            raise BadInput("max_new_tokens must be at least 1.")
        text = self.render_prompt(prompt)
        if not text.strip():
            raise BadInput("The prompt is empty.")
        templated = not isinstance(prompt, str) and bool(getattr(self.tokenizer, "chat_template", None))
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=not templated)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        room = self.context_tokens - prompt_tokens
        if room < 1:
            raise BadInput(f"The prompt is {prompt_tokens} tokens; this model reads at most {self.context_tokens}. "
                           "Use fewer or shorter passages.")
        return DraftStream(self, inputs, min(max_new_tokens, room), time_budget_s, cancel or threading.Event())

    def generate(self, prompt: Prompt, max_new_tokens: int = 200, time_budget_s: float | None = 20.0,
                 cancel: threading.Event | None = None) -> DraftResult:
        """The whole draft at once (the same streaming path, read to the end)."""
        draft = self.stream(prompt, max_new_tokens, time_budget_s, cancel)
        for _ in draft:
            pass
        assert draft.result is not None
        return draft.result


class DraftStream(Iterator[str]):
    """Text chunks as the model writes them; ``result`` is set once the stream has ended."""

    def __init__(self, llm: LocalLLM, inputs: Any, max_new_tokens: int, time_budget_s: float | None,
                 cancel: threading.Event) -> None:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        self.result: DraftResult | None = None
        self._llm, self._cancel, self._max_new_tokens = llm, cancel, max_new_tokens
        self._abandoned = threading.Event()
        self._budget = time_budget_s
        self._start = time.perf_counter()
        self._deadline: float | None = None
        self._first_token_at: float | None = None
        self._tokens = 0
        self._reason: StopReason | None = None
        self._error: BaseException | None = None
        self._parts: list[str] = []
        stream = self

        class CountingStreamer(TextIteratorStreamer):
            def put(self, value: Any) -> None:
                if not self.next_tokens_are_prompt:
                    stream._tokens += int(value.numel())
                    if stream._first_token_at is None:
                        stream._first_token_at = time.perf_counter()
                super().put(value)

        class StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                import torch

                return torch.full((input_ids.shape[0],), stream._should_stop(), dtype=torch.bool,
                                  device=input_ids.device)

        self._streamer = CountingStreamer(llm.tokenizer, skip_prompt=True, skip_special_tokens=True)
        tokenizer = llm.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        tensors = {k: inputs[k].to(llm.device) for k in ("input_ids", "attention_mask") if k in inputs}
        self._kwargs = {**tensors, "max_new_tokens": max_new_tokens,
                        "do_sample": False, "streamer": self._streamer, "pad_token_id": pad,
                        "stopping_criteria": StoppingCriteriaList([StopWhenAsked()])}
        self._thread = threading.Thread(target=self._run, name="llm-draft", daemon=True)
        self._chunks = self._iterate()

    def __next__(self) -> str:
        return next(self._chunks)

    def close(self) -> None:
        """Stop drafting and wait for the model thread (safe to call at any time)."""
        self._chunks.close()
        if self.result is None:  # never started
            self.result = self._make_result()

    def __enter__(self) -> DraftStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _should_stop(self) -> bool:
        if self._reason is None:
            if self._cancel.is_set() or self._abandoned.is_set():
                self._reason = "cancelled"
            elif self._deadline is not None and time.perf_counter() >= self._deadline:
                self._reason = "time_budget"
        return self._reason is not None

    def _run(self) -> None:
        import torch

        try:
            with self._llm._lock, torch.inference_mode():
                if not self._should_stop():  # cancelled while another draft held the model
                    self._llm.model.generate(**self._kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._error = exc
        finally:
            self._streamer.end()

    def _iterate(self) -> Generator[str, None, None]:
        self._start = time.perf_counter()  # the budget counts from the first read, not from creation
        self._deadline = self._start + self._budget if self._budget is not None else None
        self._thread.start()
        try:
            for chunk in self._streamer:
                if chunk:
                    self._parts.append(chunk)
                    yield chunk
        finally:
            self._abandoned.set()
            self._thread.join()
            self.result = self._make_result()
        if self._error is not None:
            raise InferenceError(f"The language model failed while drafting: {self._error}") from self._error

    def _make_result(self) -> DraftResult:
        now = time.perf_counter()
        if self._reason is not None:
            stopped: StopReason = self._reason
        else:
            stopped = "max_tokens" if self._tokens >= self._max_new_tokens else "done"
        first = self._first_token_at - self._start if self._first_token_at is not None else None
        return DraftResult("".join(self._parts).strip(), self._tokens, first, now - self._start, stopped,
                           self._llm.device)


def resolve_folder(source: str, allow_download: bool, cache_dir: str | Path | None = None) -> Path:
    """A local folder for ``source``: a path, a name under ``models/llm``, or a hub id (cache or download)."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    named = default_llm_dir() / source
    if named.exists():
        return named
    if path.is_absolute() or source.startswith((".", "~")) or not HUB_ID.match(source):
        raise ModelUnavailable(f"The language model folder {path} does not exist.")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=not allow_download, cache_dir=cache_dir,
                                      allow_patterns=DOWNLOAD_PATTERNS))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated repo, disk full...
        if not allow_download:
            raise ModelUnavailable(
                f"No folder {source} and the hub model {source} is not downloaded; downloads are off. Put a "
                f"transformers checkpoint folder in {default_llm_dir()} or allow downloads in settings."
            ) from exc
        raise ModelUnavailable(f"Could not download {source} (no internet, or no such model?): {exc}") from exc


def pick_llm_device(prefer: str, parameters: int, probe: MemoryProbe) -> tuple[str, str, str]:
    """(device, dtype name, note): CUDA in half precision when it fits, else CPU float32 when that fits."""
    import torch

    if prefer not in {"auto", "cpu", "cuda"}:
        raise ModelUnavailable(f"Unknown device {prefer!r} for the language model (auto, cpu or cuda).")
    note = ""
    if prefer != "cpu" and torch.cuda.is_available():
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        problem = memory_problem(memory_needed(parameters, 2), probe("cuda"), "GPU memory")
        if not problem:
            return "cuda", dtype, ""
        if prefer == "cuda":
            raise ModelUnavailable(f"The language model does not fit on the GPU: {problem}. Pick a smaller model.")
        note = f"too big for the GPU ({problem}), running on the CPU"
    elif prefer == "cuda":
        raise ModelUnavailable("CUDA was asked for but torch sees no CUDA device.")
    problem = memory_problem(memory_needed(parameters, 4), probe("cpu"), "memory")
    if problem:
        raise ModelUnavailable(f"The language model is too big for this computer: {problem}. Pick a smaller "
                               "model (0.5 to 3 billion parameters) or use a machine with a GPU.")
    return "cpu", "float32", note


def _load(folder: Path, device: str, dtype_name: str) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelUnavailable("torch and transformers are needed for drafting (pip install transformers).") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for bad tokenizer files
        raise ModelUnavailable(f"The tokenizer in {folder} could not be loaded ({exc}).") from exc
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=getattr(torch, dtype_name))
    except Exception as exc:  # noqa: BLE001 - unknown architecture, corrupt file, version mismatch...
        raise ModelUnavailable(f"The language model in {folder} could not be loaded ({exc}).") from exc
    loaded: Any = model  # transformers' stubs type .to() for its own classes only
    return tokenizer, loaded.to(device).eval()


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest
