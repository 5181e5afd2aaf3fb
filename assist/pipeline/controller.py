"""The session controller: chat events in, Insights out, everything handed to storage.

Qt-free; called from one thread (the GUI's worker, or the CLI). Callbacks report results
and errors; the journal is any object with the ``Journal`` methods (or None).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from assist.domain import (
    ChatMessage,
    EmotionEstimate,
    EventKind,
    Feedback,
    FeedbackAction,
    Insight,
    LabelEstimate,
    Role,
    ScreenEntity,
    Session,
    Suggestion,
)
from assist.inference.conversation_intent import ConversationIntent
from assist.inference.errors import BadInput
from assist.inference.escalation import escalation_risk
from assist.inference.fusion.features import CONTEXT_TURNS, FusionInputs, voice_features
from assist.inference.text_model import join_context
from assist.pipeline.engines import Engines
from assist.replies.kb.retriever import Hit, conversation_query
from assist.replies.procedures.tracker import Checklist
from assist.replies.ranking.kb_suggestions import make_suggestions

MAX_STORED_CHARS = 1_000_000
BINARY_RATIO = 0.3


class JournalLike(Protocol):
    def start_session(self, session: Session) -> None: ...
    def record_message(self, msg: ChatMessage) -> None: ...
    def record_insight(self, insight: Insight) -> None: ...
    def record_feedback(self, fb: Feedback) -> None: ...
    def end_session(self, session_id: str, ended_at: float | None = None) -> None: ...

    def record_capture_stats(self, session_id: str, stats: dict[str, Any]) -> None: ...

    def record_role_correction(self, message_id: str, role: str, at: float | None = None) -> None: ...


class ReplyRanker(Protocol):
    """Ranks the replies shown for a customer turn and learns from what the agent does with them
    (``pipeline.replies.ReplyService``)."""

    def suggest(self, message_id: str, text: str, previous_customer_turns: list[str], intent: LabelEstimate,
                emotion: EmotionEstimate, hits: list[Hit], entities: Sequence[ScreenEntity]) -> tuple[Suggestion, ...]: ...

    def feedback(self, suggestion_id: str, action: str) -> None: ...


class DraftWriter(Protocol):
    """Drafts a reply with a local language model, off the controller's thread (``pipeline.drafts.DraftService``)."""

    def start(self, message_id: str, customer_turns: Sequence[str], hits: Sequence[Hit],
              emotion_label: str | None = None, intent_label: str | None = None) -> None: ...

    def cancel(self) -> None: ...

    def shutdown(self, timeout_s: float = 5.0) -> bool: ...


class ProcedureFollower(Protocol):
    """The next-step checklist (``replies.procedures.tracker.ProcedureTracker``)."""

    def reset(self) -> None: ...

    def select(self, article_ids: Sequence[str]) -> bool: ...

    def observe(self, role: str, text: str, entities: Sequence[ScreenEntity] | None = None) -> list[str]: ...

    def checklist(self) -> Checklist | None: ...


class SessionError(Exception):
    """A user action that cannot be done now (no session, bad message...)."""


@dataclass
class Turn:
    message: ChatMessage
    insight: Insight | None = None
    features: np.ndarray | None = None  # text features for the fusion model's context tokens, when fusion is on


PROCEDURE_MIN_SCORE = 0.45  # KB relevance (0.8 dense + 0.2 BM25) from which the top hit's procedure is followed


@dataclass
class SessionController:
    engines: Engines
    journal: JournalLike | None = None
    redaction: bool = True
    on_error: Callable[[str], None] = lambda message: None
    session: Session | None = None
    history: list[Turn] = field(default_factory=list)
    screen: np.ndarray | None = None  # the latest screenshot's features for the fusion model, set by set_screen
    screen_entities: list[ScreenEntity] = field(default_factory=list)  # the latest screenshot's
    replies: ReplyRanker | None = None  # None: KB replies only, no macros, no learning
    drafts: DraftWriter | None = None  # when a local language model is configured
    procedures: ProcedureFollower | None = None  # the next-best-action checklist
    _hits: list[Hit] = field(default_factory=list)
    intent_tracker: ConversationIntent = field(default_factory=ConversationIntent)  # the KB passages behind the latest customer turn's replies
    agent: str = ""  # who uses this app (settings: agent_name): recorded on every session it starts
    team: str = ""  # the agent's team (settings: team): recorded beside the name

    def start_session(self, agent: str = "", source: str = "chat") -> Session:
        if self.session is not None:
            self.end_session()
        self.session = Session(agent=agent or self.agent, redaction_enabled=self.redaction, source=source,
                               team=self.team)
        self.history = []
        self.intent_tracker.reset()
        self.screen, self.screen_entities = None, []
        if self.procedures is not None:
            self.procedures.reset()
        self._journal("start_session", self.session)
        return self.session

    def end_session(self) -> None:
        if self.session is None:
            return
        self._journal("end_session", self.session.id, time.time())
        self.session = None

    def submit(self, role: Role | str, text: str | bytes, *, kind: EventKind | str = EventKind.CHAT,
               voice: tuple[np.ndarray, int] | None = None, meta: dict[str, Any] | None = None) -> Turn:
        """Record one turn; for the customer, analyse it and return its Insight.

        ``voice`` (samples, rate) is the customer's audio of a spoken turn: the voice model reads it and the
        fusion model joins it with the words and the previous turns. A spoken turn may have no recognised
        words (voice only).
        """
        if self.session is None:
            raise SessionError("Start a session first.")
        if self.drafts is not None:
            self.drafts.cancel()  # the conversation moved on: a draft for the previous turn is stale
        role, kind = Role(role), EventKind(kind)
        if voice is not None and isinstance(text, str) and not text.strip():
            text, notes = "", ["No words were recognised in this utterance: the estimate is from the voice."]
        elif kind is EventKind.SCREENSHOT and isinstance(text, str) and not text.strip():
            text, notes = "", []  # a screenshot with no text on it is still a record of what the agent saw
        else:
            text, notes = normalise_message(text)
        message = ChatMessage(session_id=self.session.id, role=role, text=text, kind=kind, meta=dict(meta or {}))
        self._journal("record_message", message)
        turn = Turn(message)
        if role is Role.CUSTOMER:
            turn.insight, turn.features = self._analyse(message, notes, voice)
            self._journal("record_insight", turn.insight)
            self._follow_procedure(message, self._hits)
            self._draft(message, turn.insight)
        else:
            self._follow_procedure(message, [])
        if role is not Role.CUSTOMER and self.engines.fusion is not None and text and kind is not EventKind.SCREENSHOT:
            # the agent's words are context for the next customer turn
            try:
                turn.features = self.engines.text.analyze([message.text])[0].features
            except BadInput:
                turn.features = None
        self.history.append(turn)
        return turn

    def correct_role(self, message_id: str, role: Role | str) -> Turn:
        """The agent says a message of this session was said by the other side: the journal records the correction,
        and the turn is read again: as the customer's (an Insight, with the conversation before it) or as the
        agent's (its Insight no longer counts). Raises SessionError for a message not in this session."""
        role = Role(role)
        index = next((i for i, t in enumerate(self.history) if t.message.id == message_id), None)
        if self.session is None or index is None:
            raise SessionError("That message is not in the current session.")
        turn = self.history[index]
        if turn.message.role is role or turn.message.kind is EventKind.SCREENSHOT:
            return turn
        message = replace(turn.message, role=role)
        self._journal("record_role_correction", message_id, role.value, time.time())
        corrected = Turn(message)
        later, self.history = self.history, self.history[:index]  # read with what came before it
        try:
            if role is Role.CUSTOMER and message.text:
                corrected.insight, corrected.features = self._analyse(message, [], None)
                self._journal("record_insight", corrected.insight)
            elif self.engines.fusion is not None and message.text:
                corrected.features = self.engines.text.analyze([message.text])[0].features
        finally:
            self.history = later
        self.history[index] = corrected
        return corrected

    def set_screen(self, features: np.ndarray | None, entities: Sequence[ScreenEntity]) -> None:
        """The latest screenshot: its features join the next customer turns read by the fusion model."""
        self.screen, self.screen_entities = features, list(entities)

    def record_capture_stats(self, stats: dict[str, Any]) -> None:
        """Keep a call's capture statistics (overflows, drops, device errors) with the session."""
        if self.session is not None:
            self._journal("record_capture_stats", self.session.id, stats)

    def feedback(self, suggestion_id: str, action: FeedbackAction | str) -> Feedback:
        if self.session is None:
            raise SessionError("Start a session first.")
        fb = Feedback(session_id=self.session.id, suggestion_id=suggestion_id, action=FeedbackAction(action))
        self._journal("record_feedback", fb)
        if self.replies is not None:
            self.replies.feedback(suggestion_id, fb.action.value)
        return fb

    def _analyse(self, message: ChatMessage, notes: list[str],
                 voice: tuple[np.ndarray, int] | None = None) -> tuple[Insight, Any]:
        start = time.perf_counter()
        emotions: dict[str, float] = {}
        sentiments: dict[str, float] = {}
        intents: dict[str, float] = {}
        features = embedding = None
        if message.text:
            turns = int(getattr(self.engines.text, "context_turns", 0))
            context = join_context([t.message.text for t in self.history], turns)
            analysis = self.engines.text.analyze([message.text], [context])[0]
            emotions, sentiments, intents = analysis.emotion, analysis.sentiment, analysis.intent
            features, embedding = getattr(analysis, "features", None), analysis.embedding
        contributions: dict[str, dict[str, float]] = {}
        voice_f = self._voice_features(voice, notes) if voice is not None else None
        previous_turns = [(t.features, t.message.role is Role.CUSTOMER) for t in reversed(self.history)
                          if t.features is not None][:CONTEXT_TURNS]
        # chat: with fusion on, the message is read with its previous turns; a first turn has none, and there
        # the text model alone scores higher on MELD dev than the fusion model without context (models/fusion
        # card). Calls: the fusion model is what joins the voice with the words (and the previous turns).
        fuse = self.engines.fusion is not None and (
            voice_f is not None or (self.engines.fuse_chat and features is not None and bool(previous_turns)))
        if fuse:
            inputs = FusionInputs.one(text=features, context=previous_turns, voice=voice_f, screen=self.screen)
            assert self.engines.fusion is not None  # fuse is only set with a fusion model
            fused = self.engines.fusion.estimate(inputs)
            emotions, sentiments = fused.emotion, fused.sentiment
            contributions = {"emotion": fused.contributions["emotion"]}
            if not intents:  # no words: the fused head is all there is (voice carries little intent)
                intents = fused.intent
        elif not emotions:
            raise BadInput("No words were recognised and the voice could not be read: nothing to analyse.")
        raw_emotions = emotions  # the escalation rule's weights were set on the models' own readings
        if not fuse and emotions and self.engines.dialogue_prior is not None:
            # the text model's reading, calibrated, and read with the customer's previous turn (people stay in a
            # mood: MELD dev weighted-F1 0.585 -> 0.601, ECE 0.113 -> 0.032; models/text/MODEL_CARD.md)
            previous_emotion = next((t.insight.emotion.probabilities for t in reversed(self.history)
                                     if t.message.role is Role.CUSTOMER and t.insight is not None), None)
            prior = self.engines.dialogue_prior
            alone = prior.combine(emotions, None)
            emotions = prior.combine(emotions, previous_emotion) if previous_emotion else alone
            before, now, own = (max(d, key=d.__getitem__) for d in (previous_emotion or alone, emotions, alone))
            if now != own:
                notes.append(f"Read with the customer's previous turn ({before}): {now} rather than {own}.")
        model_ms = (time.perf_counter() - start) * 1000
        emotion = EmotionEstimate(emotions)
        sentiment = _top(sentiments)
        intent = _top(intents)
        goal = self.intent_tracker.update(intents)  # the conversation's intent: replies and the checklist use it
        previous = [t.insight.sentiment.label == "negative" for t in self.history if t.insight is not None]
        by_meaning = (self.engines.escalation.evidence(message.text, embedding)
                      if self.engines.escalation is not None and message.text else [])
        escalation = escalation_risk(message.text, raw_emotions, sentiments, intents, previous, by_meaning, emotions)
        start = time.perf_counter()
        suggestions: tuple = ()
        if message.text:
            earlier = [t.message.text for t in reversed(self.history)
                       if t.message.role is Role.CUSTOMER and t.message.text][:3]
            # a short reply is read with the turn before; the last screenshot's status words and error codes join it
            query, extended = conversation_query(message.text, earlier, self.screen_entities)
            hits = self.engines.retriever.search(query, None if extended else embedding, k=3)
            self._hits = hits
            if self.replies is not None:  # KB replies and macros ranked together, with the agent's feedback
                suggestions = self.replies.suggest(message.id, message.text, earlier, goal, emotion, hits,
                                                   self.screen_entities)
            else:
                suggestions = make_suggestions(hits, emotion, message.id)
        retrieval_ms = (time.perf_counter() - start) * 1000
        if message.text and not any(ch.isalpha() for ch in message.text):
            notes.append("No words in this message (emoji or symbols only): the estimate is uncertain.")
        return Insight(
            session_id=message.session_id,
            message_id=message.id,
            emotion=emotion,
            sentiment=sentiment,
            intent=intent,
            escalation=escalation,
            suggestions=suggestions,
            model_versions=self.engines.versions,
            timings_ms={"model": round(model_ms, 2), "retrieval": round(retrieval_ms, 2),
                        "total": round(model_ms + retrieval_ms, 2)},
            notes=tuple(notes),
            device=self.engines.device,
            contributions=contributions,
            conversation_intent=goal,
        ), features

    def checklist(self) -> Checklist | None:
        """The current procedure's steps, which are done and the next one (None before a procedure is known)."""
        return self.procedures.checklist() if self.procedures is not None else None

    def _follow_procedure(self, message: ChatMessage, hits: list[Any]) -> None:
        """Tick the procedure's steps this turn shows done; a clear KB match picks (or changes) the procedure."""
        if self.procedures is None or not message.text or message.kind is EventKind.SCREENSHOT:
            return
        entities = self.screen_entities if message.role is Role.CUSTOMER else None
        self.procedures.observe(message.role.value, message.text, entities)
        if hits and hits[0].score >= PROCEDURE_MIN_SCORE:  # a greeting or "thanks" matches nothing clearly
            self.procedures.select([h.entry.id for h in hits])

    def _draft(self, message: ChatMessage, insight: Insight) -> None:
        """Ask the local language model for a reply grounded in this turn's KB passages (when there is one)."""
        if self.drafts is None or not message.text:
            return
        turns = [t.message.text for t in self.history if t.message.role is Role.CUSTOMER and t.message.text][-2:]
        self.drafts.start(message.id, [*turns, message.text], self._hits, insight.emotion.label, insight.goal.label)

    def _voice_features(self, voice: tuple[np.ndarray, int], notes: list[str]) -> np.ndarray | None:
        """The voice model's reading of the turn's audio as fusion features; None (with a note) without speech."""
        model = self.engines.voice
        if model is None or self.engines.fusion is None:
            return None
        try:
            reading = model.analyze(*voice)
        except BadInput as exc:
            notes.append(f"Voice not used: {exc}")
            return None
        if not reading.speech_present or reading.voice_classes is None or reading.emotion is None:
            notes.append("Voice: no speech found; the estimate is from the words.")
            return None
        notes.append(f"Voice: {reading.label} ({max(reading.emotion.values()):.0%}).")
        return voice_features(reading.voice_classes, float(reading.arousal or 0.0), reading.loudness)

    def _journal(self, method: str, *args: Any) -> None:
        if self.journal is None:
            return
        try:
            getattr(self.journal, method)(*args)
        except Exception as exc:  # the journal reports its own async errors via its callback
            self.on_error(f"Could not record to the journal: {exc}")


def _top(distribution: dict[str, float]) -> LabelEstimate:
    label = max(distribution, key=distribution.__getitem__)
    return LabelEstimate(label=label, confidence=round(distribution[label], 4), probabilities=distribution)


def normalise_message(text: str | bytes) -> tuple[str, list[str]]:
    """Decode, validate and trim a message; raise BadInput with words a user understands."""
    notes: list[str] = []
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise BadInput("The message is not text.")
    if not text.strip():
        raise BadInput("The message is empty.")
    sample = text[:10_000]
    odd = sum(ch == "\ufffd" or (not ch.isprintable() and ch not in "\n\r\t") for ch in sample)
    if odd / len(sample) > BINARY_RATIO:
        raise BadInput("The message looks like binary data, not text; it was not analysed.")
    text = text.encode("utf-8", errors="replace").decode("utf-8")  # drop lone surrogates
    if len(text) > MAX_STORED_CHARS:
        text = text[:MAX_STORED_CHARS]
        notes.append(f"Very long message: only the first {MAX_STORED_CHARS:,} characters were kept.")
    if len(text) > 4000:
        notes.append("Long message: the model read the first 4,000 characters.")
    return text, notes
