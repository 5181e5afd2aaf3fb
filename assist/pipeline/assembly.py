"""How the app puts a session together, once, for the window and for ``assist analyze``.

``app_engine_config`` is what the app loads (the text model with its conversation prior, the fusion and voice models
and the speech recogniser for calls, the reply bank, the knowledge base); ``session_controller`` wires a loaded set
of engines into the controller the window drives (replies ranked with the team's feedback, the procedure checklist,
drafts when a language model is there); ``analyze_turn`` plays one customer turn — with the screenshot, voice and
previous turns it comes with — through that same controller, so ``assist analyze`` prints the Insight the window
shows for the same turn.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assist.domain import EventKind, Insight, Role
from assist.inference.errors import BadInput
from assist.pipeline.controller import JournalLike, SessionController
from assist.pipeline.engines import EngineConfig, Engines
from assist.replies.procedures.tracker import ProceduresError, ProcedureTracker, load_procedures

ROLE_PREFIXES = {"customer:": Role.CUSTOMER, "agent:": Role.AGENT}


def app_engine_config(model_dir: Path | None = None, device: str = "auto", backend: str = "auto",
                      fusion: bool = False, asr_source: str | None = None, kb_path: Path | None = None,
                      llm: str | None = None, llm_download: bool = False) -> EngineConfig:
    """The engines the app runs: calls ready (voice, fusion, speech recognition) and the reply bank on."""
    return EngineConfig(model_dir=model_dir, device=device, backend=backend, fusion=fusion, voice=True,
                        asr_source=asr_source, macros=True, kb_path=kb_path, llm=llm, llm_download=llm_download)


def procedure_tracker(on_error: Callable[[str], None]) -> ProcedureTracker | None:
    """The next-best-action tracker over the bundled ABCD procedures; None (said once) when they cannot be read."""
    try:
        return ProcedureTracker(load_procedures())
    except ProceduresError as exc:
        on_error(f"{exc} The next-step checklist is off.")
        return None


def session_controller(engines: Engines, journal: JournalLike | None = None, redaction: bool = True,
                       on_error: Callable[[str], None] = lambda message: None, journal_path: Path | None = None,
                       on_draft: Callable[[Any], None] | None = None, agent: str = "",
                       team: str = "") -> SessionController:
    """The controller the window drives: KB replies and macros ranked with what agents used before (read from the
    journal at ``journal_path``), the procedure checklist, and drafts when a language model is loaded and someone
    listens to them (``on_draft``). ``agent`` (the agent's name) and ``team`` are recorded on every session it starts."""
    from assist.pipeline.replies import ReplyService, feedback_history

    drafts = None
    if engines.llm is not None and on_draft is not None:
        from assist.pipeline.drafts import DraftService

        drafts = DraftService(engines.llm, on_update=on_draft)
    return SessionController(engines, journal=journal, redaction=redaction, on_error=on_error,
                             replies=ReplyService(engines.macros, feedback_history(journal_path)), drafts=drafts,
                             procedures=procedure_tracker(on_error), agent=agent.strip(), team=team.strip())


def context_turn(line: str) -> tuple[Role, str]:
    """A previous turn as given on the command line: ``Agent: ...`` or ``Customer: ...``; the customer's without."""
    head, _, rest = line.partition(":")
    role = ROLE_PREFIXES.get(head.strip().lower() + ":")
    return (role, rest.strip()) if role is not None and rest.strip() else (Role.CUSTOMER, line.strip())


def analyze_turn(controller: SessionController, text: str | bytes | None, *, voice: str | Path | None = None,
                 image: str | Path | None = None, context: Sequence[tuple[Role | str, str]] = (),
                 screens_dir: Path | None = None) -> Insight:
    """One customer turn through the window's path: the previous turns first (oldest first), then the screenshot
    (stored in ``screens_dir``, read by OCR; its entities and features join the next customer turns), then the turn
    itself with its voice. With a voice and no text (None), the words are what the speech recogniser hears, as in a
    call; "" means the turn has no words. Raises BadInput (unreadable files, nothing to analyse)."""
    if controller.session is None:
        controller.start_session(source="cli")
    for role, words in context:
        controller.submit(role, words)
    if image is not None:
        from assist.pipeline.screens import ScreenshotService

        with tempfile.TemporaryDirectory(prefix="assist-analyze-") as scratch:
            ScreenshotService(controller, Path(screens_dir or scratch)).add_file(image)
    samples = None
    if voice is not None:
        from assist.inference.voice.audio import load_audio

        audio = load_audio(voice)
        samples = (audio.samples, audio.sample_rate)
        if text is None:
            asr = controller.engines.asr
            if asr is None:
                raise BadInput("No speech recogniser is available to transcribe the voice; give its words with --text.")
            text = asr.transcribe(audio.samples, audio.sample_rate).text
    if text is None:
        raise BadInput("Nothing to analyse: give the customer's words, a voice recording, or both.")
    kind = EventKind.UTTERANCE if samples is not None else EventKind.CHAT
    turn = controller.submit(Role.CUSTOMER, text, kind=kind, voice=samples)
    assert turn.insight is not None  # a customer's turn is always analysed
    return turn.insight


__all__ = ["analyze_turn", "app_engine_config", "context_turn", "procedure_tracker", "session_controller"]
