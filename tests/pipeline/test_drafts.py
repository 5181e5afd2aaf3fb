"""Drafting wired into the app: a tiny random GPT-2 built in the test, streamed per customer turn, cancelled by the
next message, checked against the KB passages; absent without a model. Also the next-step checklist per turn."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from assist.pipeline.controller import SessionController
from assist.pipeline.drafts import DraftService, DraftUpdate, passages_from_hits
from tests.inference.test_llm_drafting import build_tiny_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory):
    from assist.inference.llm import LocalLLM

    return LocalLLM(build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny-gpt2"), device="cpu")


class Collector:
    def __init__(self) -> None:
        self.updates: list[DraftUpdate] = []
        self.finished = threading.Event()
        self.done_ids: list[str] = []

    def __call__(self, update: DraftUpdate) -> None:
        self.updates.append(update)
        if update.done:
            self.done_ids.append(update.message_id)
            self.finished.set()

    def final(self, message_id: str) -> DraftUpdate:
        return next(u for u in self.updates if u.done and u.message_id == message_id)


def test_a_customer_turn_gets_a_streamed_draft_checked_against_its_passages(engines, llm):
    seen = Collector()
    drafts = DraftService(llm, on_update=seen, max_new_tokens=24, time_budget_s=30)
    controller = SessionController(replace(engines, llm=llm), drafts=drafts)
    controller.start_session()
    turn = controller.submit("customer", "I returned the jacket two weeks ago and still have no refund")
    assert seen.finished.wait(30)
    final = seen.final(turn.insight.message_id)
    streaming = [u for u in seen.updates if not u.done]
    assert streaming and all(u.message_id == turn.insight.message_id for u in streaming)
    assert final.text and final.text.startswith(streaming[0].text)  # the card grows into the final draft
    assert final.note == "draft cut at the length limit" and final.model == "tiny-gpt2"
    # a random model cites nothing: the agent is told so rather than shown a confident reply
    assert final.warning.startswith("Check before sending") and "cites no passage" in final.warning
    assert drafts.shutdown()


def test_the_next_message_cancels_the_running_draft(engines, llm):
    seen = Collector()
    drafts = DraftService(llm, on_update=seen, max_new_tokens=1500, time_budget_s=60)
    controller = SessionController(engines, drafts=drafts)
    controller.start_session()
    first = controller.submit("customer", "Where is my package? It was due on Monday")
    controller.submit("agent", "Let me check that for you.")
    assert seen.finished.wait(30)
    final = seen.final(first.insight.message_id)
    assert final.note == "draft cancelled" and len(final.text.split()) < 1500
    assert drafts.shutdown()


def test_a_failing_model_is_said_on_the_card_and_the_app_goes_on(engines):
    class Broken:
        name = "broken"

        def stream(self, *args, **kwargs):
            raise RuntimeError("CUDA out of memory")

    seen = Collector()
    controller = SessionController(engines, drafts=DraftService(Broken(), on_update=seen))
    controller.start_session()
    turn = controller.submit("customer", "my discount code does not work")
    assert seen.finished.wait(10) and turn.insight.suggestions
    assert seen.final(turn.insight.message_id).note == "draft failed: CUDA out of memory"


def test_passages_come_from_the_kb_hits(engines):
    hits = engines.retriever.search("how do I reset my password", k=2)
    passages = passages_from_hits(hits)
    assert [p.id for p in passages] == [h.entry.id for h in hits] and all(p.text for p in passages)


def test_engines_load_a_configured_model_and_none_without_one(llm, tmp_path):
    from assist.pipeline.engines import EngineConfig, _load_llm

    notes: list[str] = []
    timings: dict[str, float] = {}
    from assist.domain import ProgressState

    loaded = _load_llm(EngineConfig(llm=str(llm.folder), device="cpu"), notes, timings, ProgressState())
    assert loaded is not None and loaded.name == "tiny-gpt2" and "llm_s" in timings and not notes
    assert _load_llm(EngineConfig(llm="none"), notes, timings, ProgressState()) is None and not notes
    assert _load_llm(EngineConfig(llm=None), notes, timings, ProgressState()) is None  # models/llm ships empty
    assert _load_llm(EngineConfig(llm=str(tmp_path / "nowhere")), notes, timings, ProgressState()) is None
    assert len(notes) == 1 and "does not exist" in notes[0] and "without drafts" in notes[0]


def test_the_checklist_follows_an_abcd_style_conversation(engines):
    from assist.replies.procedures.tracker import ProcedureTracker, load_procedures

    controller = SessionController(engines, procedures=ProcedureTracker(load_procedures()))
    controller.start_session()
    assert controller.checklist() is None
    controller.submit("customer", "Hi, I want to return a pair of jeans, they are the wrong size")
    checklist = controller.checklist()
    assert checklist is not None and "abcd/product-defect/" in checklist.article_id
    assert checklist.next_step is not None and checklist.next_step.id == "pull-up-account"
    controller.submit("agent", "Sure, may I have your full name or account ID please?")
    controller.submit("customer", "Crystal Minh")
    done = {s.step.id for s in controller.checklist().steps if s.done}
    assert "pull-up-account" in done and controller.checklist().next_step.id != "pull-up-account"
    controller.start_session()
    assert controller.checklist() is None  # a new session starts with no procedure
