"""Next best action: procedures built from ABCD's guidelines, the evidence rules, and the tracker on the three
real ABCD sample conversations (the "action" rows there say when the agent really did each step)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assist.domain import ScreenEntity
from assist.replies.kb.entries import import_abcd_guidelines
from assist.replies.procedures import tracker as P
from assist.replies.procedures.rules import RULES
from assist.replies.procedures.tracker import Procedure, ProcedureStep, ProcedureTracker
from support import data_dir

ABCD = data_dir() / "abcd"
needs_abcd = pytest.mark.skipif(not (ABCD / "guidelines.json").is_file(), reason=f"ABCD data not found at {ABCD}")
MAX_LAG = 3  # a step must tick no later than this many chat turns after ABCD logged the action


@pytest.fixture(scope="module")
def bundled() -> list[Procedure]:
    return P.load_procedures()


@pytest.fixture(scope="module")
def all_steps(bundled) -> Procedure:
    """Every step of every procedure in one: checks each rule on every action row of the samples."""
    steps = {s.id: s for p in bundled for s in p.steps}
    return Procedure("test/all", "All steps", "Test", "", tuple(steps.values()))


def by_intent(procedures: list[Procedure], flow: str, subflow: str) -> Procedure:
    """The procedure for a sample's scenario (storewide 'timing_4' is the Timing FAQ, question 4)."""
    intents = {p.intent: p for p in procedures}
    return intents.get(subflow) or intents[subflow.rsplit("_", 1)[0]]


def tracker_on(procedure: Procedure) -> ProcedureTracker:
    tracker = ProcedureTracker([procedure])
    assert tracker.select([procedure.article_id])
    return tracker


# --- building --------------------------------------------------------------------------------------
@needs_abcd
def test_bundled_file_matches_a_fresh_build(bundled, tmp_path):
    fresh = P.build_procedures(ABCD / "guidelines.json", ABCD / "kb.json")
    assert bundled == fresh
    out = tmp_path / "procedures.json"
    assert P.main(["--data", str(ABCD.parent), str(out)]) == 0
    assert out.read_text(encoding="utf-8") == P.default_procedures_path().read_text(encoding="utf-8")


def test_bundled_file_names_source_and_licence():
    data = json.loads(P.default_procedures_path().read_text(encoding="utf-8"))
    assert data["licence"] == "MIT (ABCD, asappresearch/abcd)"
    assert "abcd" in data["source"].lower()
    assert len(data["procedures"]) == 55


@needs_abcd
def test_procedures_are_keyed_by_the_knowledge_base_article_ids(bundled):
    kb_ids = {e.id for e in import_abcd_guidelines(ABCD / "guidelines.json")}
    assert {p.article_id for p in bundled} == kb_ids
    assert P.article_id_for("Product Defect", "Return Due to Size") == "abcd/product-defect/return-due-to-size"


@needs_abcd
def test_every_guideline_button_is_a_step_with_its_own_rule(bundled):
    guidelines = json.loads((ABCD / "guidelines.json").read_text(encoding="utf-8"))
    procedures = {p.article_id: p for p in bundled}
    buttons = set()
    for flow, flow_data in guidelines.items():
        for subflow, sub in flow_data["subflows"].items():
            step_ids = [s.id for s in procedures[P.article_id_for(flow, subflow)].steps]
            assert len(step_ids) == len(set(step_ids)), "steps are deduplicated"
            for action in sub["actions"]:
                if action["button"] != P.NOT_A_STEP:
                    buttons.add(action["button"])
                    assert P.step_id_for(action["button"]) in step_ids, (subflow, action["button"])
    assert len(buttons) == 32
    step_ids = {P.step_id_for(b) for b in buttons}
    assert step_ids <= set(RULES), f"buttons without a rule: {step_ids - set(RULES)}"
    ontology = json.loads((ABCD / "ontology.json").read_text(encoding="utf-8"))["actions"]
    known = {a for group in ontology.values() for a in group} | {"end-conversation"}
    assert step_ids <= known, f"not ABCD action ids: {step_ids - known}"


@needs_abcd
def test_steps_follow_guideline_order_and_kb_json_marks_what_is_optional(bundled):
    procedures = {p.intent: p for p in bundled}
    assert [s.id for s in procedures["refund_initiate"].steps] == [
        "pull-up-account", "validate-purchase", "record-reason", "enter-details", "offer-refund"]
    assert not any(s.optional for s in procedures["refund_initiate"].steps)
    stain = {s.id: s for s in procedures["return_stain"].steps}
    assert stain["end-conversation"].optional and not stain["update-order"].optional
    # kb.json requires an action the guideline names only inside another step: added, optional, in kb order
    pay_bill = [(s.id, s.optional) for s in procedures["manage_pay_bill"].steps]
    assert pay_bill.index(("subscription-status", True)) == pay_bill.index(("enter-details", False)) - 1
    assert ("update-order", True) == [(s.id, s.optional) for s in procedures["refund_status"].steps][-1]
    assert "Subscription Status" in dict((s.id, s.hint) for s in procedures["manage_pay_bill"].steps)[
        "subscription-status"]
    timing = {s.id: s for s in procedures["timing"].steps}
    assert "promo codes expire" in timing["search-timing"].hint
    assert all(s.hint and len(s.hint) <= 160 for p in bundled for s in p.steps)


def test_write_and_load_round_trip_and_errors(tmp_path):
    step = ProcedureStep("verify-identity", "Verify identity", "Ask for two of ...")
    procedure = Procedure("abcd/x/y", "Y", "X", "y", (step,))
    path = tmp_path / "p.json"
    P.write_procedures([procedure], path)
    assert P.load_procedures(path) == [procedure]
    with pytest.raises(P.ProceduresError, match="not found"):
        P.load_procedures(tmp_path / "missing.json")
    path.write_text('{"procedures": [{"title": 1}]}', encoding="utf-8")
    with pytest.raises(P.ProceduresError, match="corrupt"):
        P.load_procedures(path)
    with pytest.raises(P.ProceduresError):
        P.build_procedures(tmp_path / "no-guidelines.json")


# --- the three real ABCD conversations ---------------------------------------------------------------
def sample_conversations() -> list[dict]:
    path = ABCD / "abcd_sample.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def replay(tracker: ProcedureTracker, conversation: dict) -> tuple[dict[str, int], dict[str, int], list[float]]:
    """Feed the chat rows (not the action rows); when each step ticked and when ABCD logged each action,
    both as the number of chat rows seen so far."""
    ticked: dict[str, int] = {}
    logged: dict[str, int] = {}
    seen, timings = 0, []
    for (speaker, text), delexed in zip(conversation["original"], conversation["delexed"], strict=True):
        if speaker == "action":
            logged.setdefault(delexed["targets"][2], seen)
            continue
        seen += 1
        start = time.perf_counter()
        for step_id in tracker.observe(speaker, text):
            ticked.setdefault(step_id, seen)
        timings.append(time.perf_counter() - start)
    return ticked, logged, timings


@needs_abcd
@pytest.mark.parametrize("index", [0, 1, 2])
def test_sample_conversation_ticks_the_steps_the_agent_did(bundled, index):
    conversation = sample_conversations()[index]
    procedure = by_intent(bundled, conversation["scenario"]["flow"], conversation["scenario"]["subflow"])
    tracker = tracker_on(procedure)
    ticked, logged, timings = replay(tracker, conversation)
    in_procedure = {s.id for s in procedure.steps} & set(logged)
    assert len(in_procedure) >= 2
    for step_id in in_procedure:
        assert step_id in ticked, f"{step_id} (logged after chat row {logged[step_id]}) never ticked"
        assert ticked[step_id] <= logged[step_id] + MAX_LAG, (step_id, ticked[step_id], logged[step_id])
    checklist = tracker.checklist()
    assert checklist is not None
    assert all(s.evidence and s.turn for s in checklist.steps if s.done)
    assert sum(timings) / len(timings) < 1e-3


@needs_abcd
@pytest.mark.parametrize("index", [0, 1, 2])
def test_every_logged_action_is_detected_by_its_rule(all_steps, index):
    """All procedures' steps at once: every action ABCD logged (manager notified, details entered, ...)."""
    ticked, logged, _ = replay(tracker_on(all_steps), sample_conversations()[index])
    late = {s: (ticked.get(s), row) for s, row in logged.items() if ticked.get(s, 10**6) > row + MAX_LAG}
    assert not late, f"missed or late (ticked at, logged at): {late}"


@needs_abcd
def test_sample_checklists_end_where_the_agents_stopped(bundled):
    conversations = sample_conversations()
    expected_next = ["update-order", "notify-team", None]  # no return possible; refund status given; FAQ done
    for conversation, next_id in zip(conversations, expected_next, strict=True):
        procedure = by_intent(bundled, conversation["scenario"]["flow"], conversation["scenario"]["subflow"])
        tracker = tracker_on(procedure)
        replay(tracker, conversation)
        checklist = tracker.checklist()
        assert (checklist.next_step.id if checklist.next_step else None) == next_id


# --- rules on their own --------------------------------------------------------------------------------
POSITIVE = [
    ("pull-up-account", [("agent", "May I have your name?"), ("customer", "sure, it's Joyce Wu")]),
    ("pull-up-account", [("customer", "My account ID is WCUSTYQERI")]),
    ("verify-identity", [("customer", "my zip code is 94010"), ("customer", "and my phone is 555-123-4567")]),
    ("validate-purchase", [("customer", "username jwu123, email jwu123@email.com, order #4410029384")]),
    ("record-reason", [("agent", "Why would you like a refund?"), ("customer", "It arrived damaged")]),
    ("enter-details", [("agent", "What's your address?"), ("customer", "123 Main Street, Springfield")]),
    ("offer-refund", [("agent", "I've issued a refund of $40 to your card.")]),
    ("make-password", [("agent", "Your new password is Xk29LLp, please change it after logging in.")]),
    ("send-link", [("agent", "I've sent you a link to reset it.")]),
    ("update-account", [("agent", "I have updated the address on your account.")]),
    ("update-order", [("agent", "I've changed the delivery date to next week.")]),
    ("notify-team", [("agent", "I have let the website team know about this.")]),
    ("ask-the-oracle", [("agent", "Let me check our system.")]),
    ("promo-code", [("agent", "Here is a promo code for 20% off: SAVE20")]),
    ("make-purchase", [("agent", "I've placed the order for the Guess jeans.")]),
    ("subscription-status", [("agent", "Your subscription is active and your bill of $99 is due on May 1.")]),
    ("shipping-status", [("customer", "the site says it's in transit")]),
    ("membership", [("customer", "I'm a gold member")]),
    ("try-again", [("agent", "Could you try entering the card again?")]),
    ("log-out-in", [("agent", "Can you log out and log back in?")]),
    ("instructions", [("agent", "Please try clearing your cookies.")]),
    ("end-conversation", [("agent", "Unfortunately we cannot accept the return after 90 days.")]),
    ("search-faq", [("agent", "Let me look that up in our FAQ.")]),
]


@pytest.mark.parametrize(("step_id", "turns"), POSITIVE, ids=[f"{s}-{i}" for i, (s, _) in enumerate(POSITIVE)])
def test_each_rule_ticks_on_evidence(all_steps, step_id, turns):
    tracker = tracker_on(all_steps)
    for role, text in turns:
        tracker.observe(role, text)
    assert step_id in tracker.done_steps()


CHATTER = [
    ("agent", "Hi! How can I help you today?"), ("customer", "hey, how are you doing?"),
    ("agent", "I'm doing well, thanks for asking."), ("customer", "the weather is lovely here"),
    ("agent", "That sounds wonderful."), ("customer", "My cat likes to sleep in the sun."),
    ("agent", "Cats know how to relax!"), ("customer", "ok thanks"), ("agent", "Is there anything else?"),
]


def test_unrelated_chatter_ticks_nothing(all_steps):
    tracker = tracker_on(all_steps)
    for role, text in CHATTER:
        assert tracker.observe(role, text) == [], text
    checklist = tracker.checklist()
    assert checklist.done_count == 0
    assert checklist.next_step == all_steps.steps[0]


@pytest.mark.parametrize("text", [
    "Would you like me to offer you a refund?", "Unfortunately I can't offer a refund on this item.",
    "I will check the status of your refund.", "Have you updated your address recently?",
])
def test_offers_questions_and_negations_are_not_actions(all_steps, text):
    tracker = tracker_on(all_steps)
    tracker.observe("agent", text)
    assert not {"offer-refund", "update-account", "update-order"} & set(tracker.done_steps())


def test_faq_answer_ticks_search_topic_and_answer(bundled):
    boots = next(p for p in bundled if p.intent == "boots")
    tracker = tracker_on(boots)
    tracker.observe("customer", "Are your boots waterproof?")
    assert tracker.checklist().done_count == 0
    tracker.observe("agent", "Yes, they are fully waterproof and come with a one-year warranty.")
    assert {s.step.id for s in tracker.checklist().steps if s.done} == {"search-faq", "search-boots", "select-faq"}


def test_unknown_button_falls_back_to_the_words_of_its_label():
    procedure = Procedure("x/escalate", "Escalate", "X", "", (ProcedureStep("escalate-ticket", "Escalate ticket", ""),))
    tracker = tracker_on(procedure)
    tracker.observe("customer", "Please escalate this")
    assert tracker.done_steps() == {}
    tracker.observe("agent", "I'll escalate your ticket to tier 2 now.")
    assert "escalate-ticket" in tracker.done_steps()


def test_screenshot_entities_count_as_given(all_steps):
    tracker = tracker_on(all_steps)
    tracker.observe("agent", "Looking at your order now",
                    entities=[ScreenEntity("order_id", "ORD-2024-0012"),
                              ScreenEntity("account_id", "ACC-991"), ScreenEntity("status", "Shipped")])
    done = tracker.done_steps()
    assert {"pull-up-account", "verify-identity", "shipping-status"} <= set(done)
    assert "screen turn 1" in done["pull-up-account"] and "ACC-991" in done["pull-up-account"]


def test_steps_tick_in_any_order_and_next_step_is_the_first_undone(bundled):
    refund = next(p for p in bundled if p.intent == "refund_initiate")
    tracker = tracker_on(refund)
    tracker.observe("agent", "I have issued a refund of $50 to your card.")
    checklist = tracker.checklist()
    assert [s.done for s in checklist.steps] == [False, False, False, False, True]
    assert checklist.next_step.id == "pull-up-account"
    tracker.observe("customer", "My name is Chloe Zhang")
    assert tracker.checklist().next_step.id == "validate-purchase"


# --- choosing the procedure ------------------------------------------------------------------------------
SIZE, STATUS, TIMING = ("abcd/product-defect/return-due-to-size", "abcd/product-defect/refund-status",
                        "abcd/storewide-query/timing-faq")


def test_select_keeps_the_procedure_while_it_is_retrieved_and_switches_when_another_leads(bundled):
    tracker = ProcedureTracker(bundled)
    assert tracker.checklist() is None
    assert not tracker.select(["not/a/procedure", "macro:greeting"])
    assert tracker.select([SIZE, STATUS])
    tracker.observe("agent", "May I have your full name?")
    tracker.observe("customer", "Crystal Minh")
    tracker.observe("customer", "I'm a bronze member")
    assert not tracker.select([STATUS, TIMING, SIZE]), "still in the top 3: kept"
    assert not tracker.select([STATUS]), "one retrieval is not enough to switch"
    assert tracker.current.article_id == SIZE
    assert tracker.select([STATUS])
    checklist = tracker.checklist()
    assert checklist.article_id == STATUS and checklist.title == "Refund Status"
    done = {s.step.id for s in checklist.steps if s.done}
    assert done == {"pull-up-account"}, "shared tick kept; the membership tick belongs to the old procedure"
    assert checklist.next_step.id == "validate-purchase"


def test_switching_replays_recent_turns_for_the_new_procedures_steps(bundled):
    tracker = ProcedureTracker(bundled, patience=1)
    tracker.select([SIZE])
    tracker.observe("agent", "I have let my manager know, they will call you back.")
    assert "notify-team" not in {s.step.id for s in tracker.checklist().steps}
    assert tracker.select([STATUS])
    assert "notify-team" in tracker.done_steps()
    tracker.reset()
    assert tracker.checklist() is None and tracker.done_steps() == {}


def test_other_roles_are_ignored(all_steps):
    tracker = tracker_on(all_steps)
    assert tracker.observe("action", "Account has been pulled up for Crystal Minh.") == []
    assert tracker.observe("system", "I have issued a refund") == []
    assert tracker.done_steps() == {}


def test_cli_reports_missing_data(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        P.main(["--data", str(tmp_path), str(tmp_path / "out.json")])
    assert exc.value.code == 1
    assert "guidelines.json" in capsys.readouterr().err
    assert not Path(tmp_path / "out.json").exists()
