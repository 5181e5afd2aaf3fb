"""The Qt-free session controller with the real engines."""

from __future__ import annotations

import pytest

from assist.domain import FeedbackAction, Role
from assist.inference.errors import BadInput
from assist.pipeline.controller import SessionController, SessionError, normalise_message


@pytest.fixture
def controller(engines, recording_journal):
    c = SessionController(engines, journal=recording_journal)
    c.start_session(agent="tester")
    return c


def test_customer_message_gives_a_full_insight(controller, recording_journal):
    turn = controller.submit(Role.CUSTOMER, "This is the third time my package is late, I want my money back NOW")
    insight = turn.insight
    assert insight is not None
    assert insight.emotion.label == "anger"
    assert insight.intent.label in {"get_refund", "complaint"}
    assert len(insight.suggestions) == 3
    assert insight.escalation.level.value in {"medium", "high"}
    assert insight.model_versions["text"].startswith("text-")
    assert set(insight.timings_ms) == {"model", "retrieval", "total"}
    assert insight.device in {"cpu", "cuda"}
    assert recording_journal.named("record_message")[0][0] is turn.message
    assert recording_journal.named("record_insight")[0][0] is insight


def test_agent_message_is_recorded_without_insight(controller, recording_journal):
    turn = controller.submit("agent", "Hello, how can I help?")
    assert turn.insight is None
    assert len(recording_journal.named("record_message")) == 1
    assert recording_journal.named("record_insight") == []


def test_history_is_kept_in_order(controller):
    controller.submit("customer", "Hi, my order is late")
    controller.submit("agent", "Sorry to hear that, let me check")
    controller.submit("customer", "Thanks")
    assert [t.message.role for t in controller.history] == [Role.CUSTOMER, Role.AGENT, Role.CUSTOMER]
    assert [t.insight is not None for t in controller.history] == [True, False, True]


def test_feedback_and_session_lifecycle(controller, recording_journal):
    turn = controller.submit("customer", "I need a refund")
    fb = controller.feedback(turn.insight.suggestions[0].id, "copied")
    assert fb.action is FeedbackAction.COPIED
    session_id = controller.session.id
    controller.end_session()
    assert recording_journal.named("end_session")[0][0] == session_id
    with pytest.raises(SessionError):
        controller.submit("customer", "hello?")


@pytest.mark.parametrize("bad", ["", "   ", "\n\t  \n"])
def test_empty_messages_are_rejected(controller, bad, recording_journal):
    with pytest.raises(BadInput, match="empty"):
        controller.submit("customer", bad)
    assert recording_journal.named("record_message") == []


def test_binary_is_rejected(controller):
    with pytest.raises(BadInput, match="binary"):
        controller.submit("customer", bytes(range(256)) * 40)


def test_invalid_utf8_bytes_are_decoded(controller):
    turn = controller.submit("customer", "caf\xe9 is closed and my order is late".encode("latin-1"))
    assert "\ufffd" in turn.message.text
    assert turn.insight is not None


def test_one_megabyte_message(controller):
    text = "My order is late and I am annoyed. " * 28_000  # ~1 MB
    turn = controller.submit("customer", text)
    assert turn.insight is not None
    assert any("first 4,000 characters" in n for n in turn.insight.notes)
    assert len(turn.message.text) == len(text)


def test_over_a_megabyte_is_cut_with_a_note(controller):
    turn = controller.submit("customer", "where is my refund " * 60_000)
    assert len(turn.message.text) == 1_000_000
    assert any("Very long message" in n for n in turn.insight.notes)


def test_emoji_only_message_is_flagged_uncertain(controller):
    turn = controller.submit("customer", "😡😡😡")
    assert any("uncertain" in n for n in turn.insight.notes)


def test_mixed_language_message(controller):
    turn = controller.submit("customer", "Hola, my paquete no ha llegado, where is my order?")
    assert turn.insight is not None and len(turn.insight.suggestions) == 3


def test_lone_surrogates_do_not_crash():
    text, _ = normalise_message("broken \udc80 text")
    text.encode("utf-8")


def test_journal_failure_is_reported_not_raised(engines):
    class BrokenJournal:
        def __getattr__(self, name):
            def fail(*args):
                raise OSError("disk full")
            return fail

    errors = []
    c = SessionController(engines, journal=BrokenJournal(), on_error=errors.append)
    c.start_session()
    turn = c.submit("customer", "where is my order")
    assert turn.insight is not None
    assert errors and "disk full" in errors[0]


def test_previous_turns_are_the_context(engines):
    """The model sees the last turns (most recent first) when it was trained with context."""
    from dataclasses import replace as dc_replace

    seen = []

    class Recording:
        def __init__(self, model):
            self.model, self.version, self.device = model, model.version, model.device
            self.context_turns = 2

        def analyze(self, texts, contexts=None):
            seen.append(contexts)
            return self.model.analyze(texts, contexts)

    c = SessionController(dc_replace(engines, text=Recording(engines.text)))
    c.start_session()
    c.submit("customer", "Hi, my order is late")
    c.submit("agent", "Sorry! Let me check.")
    c.submit("customer", "Thanks")
    customer_calls = [s for s in seen if s is not None]  # agent turns are encoded too (fusion context)
    assert customer_calls[0] == [""]
    assert customer_calls[1] == ["Sorry! Let me check. Hi, my order is late"]


def test_engines_run_the_int8_onnx_model_on_one_thread(engines):
    """The shipped default: onnxruntime, one intra-op thread (2 threads on 2 cores stall next to any busy
    process, see set_cpu_threads), and neither torch nor transformers loaded by the app's engines."""
    import subprocess
    import sys

    assert engines.text.backend == "onnx"
    assert engines.provider in {"CPUExecutionProvider", "CUDAExecutionProvider"}
    assert engines.text.session.get_session_options().intra_op_num_threads == 1
    code = ("import sys; from assist.pipeline.engines import load_engines; load_engines(); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_torch_backend_uses_one_cpu_thread():
    import torch

    from assist.pipeline.engines import EngineConfig, load_engines

    engines = load_engines(EngineConfig(backend="torch"))
    assert engines.text.backend == "torch" and torch.get_num_threads() == 1
    turn = SessionController(engines)
    turn.start_session()
    assert turn.submit("customer", "I want my money back NOW, the package is late again").insight.emotion.label == "anger"


def test_later_turns_are_fused_with_the_previous_turns(engines):
    from dataclasses import replace as dc_replace

    from assist.inference.fusion.model import FusionModel

    assert engines.fusion is None  # off by default (see EngineConfig.fusion)
    engines = dc_replace(engines, fusion=FusionModel(prefer_gpu=False), fuse_chat=True)
    assert "fusion" in engines.versions
    c = SessionController(engines)
    c.start_session()
    first = c.submit("customer", "Hi, my order still hasn't arrived")
    assert first.insight.contributions == {}  # first turn: the text model alone
    c.submit("agent", "I'm sorry, let me check that for you.")
    later = c.submit("customer", "This is the third time I've asked. I want my money back NOW")
    assert set(later.insight.contributions["emotion"]) == {"text", "context"}
    assert later.insight.emotion.label == "anger"
    assert abs(sum(later.insight.emotion.probabilities.values()) - 1) < 1e-4


def test_engines_work_without_the_fusion_model(tmp_path):
    from assist.pipeline.engines import EngineConfig, load_engines

    engines = load_engines(EngineConfig(fusion=True, fusion_dir=tmp_path / "no-fusion"))
    assert engines.fusion is None and any("fusion model is missing" in n for n in engines.notes)
    c = SessionController(engines)
    c.start_session()
    c.submit("customer", "hello")
    assert c.submit("customer", "where is my refund?").insight.contributions == {}


def test_a_delighted_customer_is_read_as_happy_and_gets_no_apology(app_engines):
    """The demo's happy customer (resources/demo/happy_customer.json), through the window's controller."""
    import json

    from assist.paths import resource
    from assist.pipeline.assembly import session_controller

    script = json.loads(resource("demo", "happy_customer.json").read_text(encoding="utf-8"))
    controller = session_controller(app_engines)
    controller.start_session()
    turns = [controller.submit(m["role"], m["text"]) for m in script["messages"]]
    last = turns[-1].insight
    assert last.emotion.label == "joy" and last.sentiment.label == "positive"
    assert last.escalation.level.value == "low"
    top = last.suggestions[0].text.lower()
    from assist.replies.ranking.tone import GLAD

    assert "sorry" not in top and "refund" not in top and GLAD.search(top)
