"""The conversation's intent: evidence accumulates over the customer's turns, an explicit new request switches it."""

from __future__ import annotations

from assist.inference.conversation_intent import ConversationIntent


def dist(top: str, p: float, other: str = "review") -> dict[str, float]:
    return {top: p, other: 1.0 - p}


def test_a_detail_turn_keeps_the_conversations_intent():
    tracker = ConversationIntent()
    assert tracker.update(dist("change_shipping_address", 0.85)).label == "change_shipping_address"
    # "it's the one I updated yesterday, but the order still shows the old one": the model is unsure and wrong
    after = tracker.update(dist("track_order", 0.45, other="change_shipping_address"))
    assert after.label == "change_shipping_address"


def test_an_explicit_new_request_switches_it():
    tracker = ConversationIntent(decay=0.85, switch=0.9)
    tracker.update(dist("payment_issue", 0.9))
    tracker.update(dist("payment_issue", 0.7))
    assert tracker.update(dist("check_payment_methods", 0.95)).label == "check_payment_methods"


def test_reset_starts_a_new_conversation():
    tracker = ConversationIntent()
    tracker.update(dist("get_refund", 0.9))
    tracker.reset()
    assert tracker.update(dist("track_order", 0.6)).label == "track_order"
    assert 0 < tracker.current().confidence <= 1


def test_the_controller_puts_the_conversations_intent_in_each_insight(engines):
    from assist.pipeline.controller import SessionController

    controller = SessionController(engines)
    controller.start_session()
    first = controller.submit("customer", "I need to change the delivery address on my order").insight
    second = controller.submit("customer", "it's the one from yesterday").insight
    assert first.conversation_intent is not None and second.conversation_intent is not None
    assert second.goal == second.conversation_intent
    assert second.conversation_intent.label == first.conversation_intent.label
