"""Next best action: ABCD procedures as checklists that tick themselves as the conversation shows each step.

A ``Procedure`` is one ABCD subflow (e.g. Product Defect > Return Due to Size), keyed by the same article id
the knowledge base gives it (``abcd/<slug(flow)>/<slug(subflow)>``), so the app can pick it from the top
retrieved article. Its steps are the subflow's action buttons in guideline order ("Pull up Account",
"Validate Purchase", ...), one per button, with ABCD's action ids ("pull-up-account") and a short hint from
the guideline text. ``ProcedureTracker`` follows the chat turn by turn and ticks steps with the evidence
rules of ``assist.replies.procedures.rules``; ``next_step`` is the first step not yet ticked.

Build the bundled file with ``python -m assist.replies.procedures.tracker --data ../shared/data OUT.json``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from assist.domain import ScreenEntity
from assist.paths import resource, shared_data_dir
from assist.replies.procedures.facts import AGENT, CUSTOMER, Facts, Turn, read_customer_turn, read_entities
from assist.replies.procedures.rules import detect, topic_of

LICENCE = "MIT (ABCD, asappresearch/abcd)"
SOURCE = ("ABCD agent guidelines (data/guidelines.json) cross-checked with data/kb.json and data/ontology.json, "
          "github.com/asappresearch/abcd; built by python -m assist.replies.procedures.tracker")

# guideline button -> ABCD action id, where the id is not the button's slug (ids as in kb.json / ontology.json)
BUTTON_IDS = {
    "Notify Internal Team": "notify-team", "Membership Privileges": "membership", "Log Out/In": "log-out-in",
    "Enter Detail": "enter-details", "Select Answer": "select-faq", "End Conversation": "end-conversation",
    **{topic: f"search-{topic.lower()}" for topic in
       ("Boots", "Shirt", "Jeans", "Jacket", "Pricing", "Membership", "Timing", "Policy")},
}
NOT_A_STEP = "N/A"  # guideline rows that only say what to tell the customer: no button, nothing to tick
LABELS = {
    "pull-up-account": "Pull up account", "verify-identity": "Verify identity",
    "validate-purchase": "Validate purchase",
    "record-reason": "Record reason", "enter-details": "Enter details", "offer-refund": "Offer refund",
    "notify-team": "Notify internal team", "membership": "Check membership level", "update-order": "Update order",
    "update-account": "Update account", "ask-the-oracle": "Check the system (Ask the Oracle)",
    "shipping-status": "Get shipping status", "subscription-status": "Check subscription status",
    "make-purchase": "Make purchase", "make-password": "Make new password", "send-link": "Send link",
    "promo-code": "Give promo code", "search-faq": "Search FAQ", "select-faq": "Select FAQ answer",
    "try-again": "Ask to try again", "log-out-in": "Ask to log out and in", "instructions": "Give instructions",
    "end-conversation": "End conversation",
    **{f"search-{t}": f"FAQ topic: {t}" for t in ("boots", "shirt", "jeans", "jacket", "pricing", "membership",
                                                  "timing", "policy")},
}
_VAGUE_TEXT = re.compile(r"^(?:x|option \d.*|communication|optional step|if oracle says.*)$", re.IGNORECASE)
_HINT_CHARS = 160


class ProceduresError(Exception):
    """The procedures file or the ABCD data is missing or unreadable."""


@dataclass(frozen=True)
class ProcedureStep:
    id: str  # ABCD action id, e.g. "verify-identity"
    label: str  # e.g. "Verify identity"
    hint: str  # short guideline text: what to do
    optional: bool = False  # a branch taken only sometimes (see build_procedures)


@dataclass(frozen=True)
class Procedure:
    article_id: str  # the knowledge-base article it belongs to
    title: str  # the subflow, e.g. "Return Due to Size"
    flow: str  # e.g. "Product Defect"
    intent: str  # ABCD's subflow id, e.g. "return_size" ("" when unknown)
    steps: tuple[ProcedureStep, ...]


@dataclass(frozen=True)
class StepState:
    step: ProcedureStep
    done: bool
    evidence: str = ""  # which turn showed it, in a few words
    turn: int = 0  # the observed turn (1-based) that ticked it; 0 while not done


@dataclass(frozen=True)
class Checklist:
    article_id: str
    title: str
    flow: str
    steps: tuple[StepState, ...]
    next_step: ProcedureStep | None  # first required step not yet done; None when all are done

    @property
    def done_count(self) -> int:
        return sum(s.done for s in self.steps)


def article_id_for(flow: str, subflow: str) -> str:
    """The knowledge base's article id for an ABCD subflow (same slug as assist.replies.kb.entries)."""
    return f"abcd/{_slug(flow)}/{_slug(subflow)}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def step_id_for(button: str) -> str:
    """ABCD action id for a guideline button ("Pull up Account" -> "pull-up-account")."""
    return BUTTON_IDS.get(button, _slug(button))


def _clean(text: str) -> str:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"').replace("\u2192", "->")
    return re.sub(r"\s+", " ", text).strip()


def _hint(action: dict, instructions: Sequence[str] = ()) -> str:
    """The action's own text (with its sub-points' heads when it ends in ":"), or its first sub-point when the
    text is only "Option 2" / "x". An FAQ topic step lists the questions that topic answers."""
    step_id = step_id_for(action.get("button", ""))
    if topic_of(step_id) and len(instructions) > 1:
        return _shorten(f"Questions it answers: {_clean(instructions[1])}")
    text, subtext = _clean(action.get("text", "")), [_clean(s) for s in action.get("subtext", [])]
    if re.search(r"(?::|options are|include)$", text) and subtext:
        heads = [re.split(r" - | > |\. ", s)[0].rstrip(".") for s in subtext]
        return _shorten(f"{text} {'; '.join(heads)}")
    useful = [p for p in (text, *subtext) if p and not _VAGUE_TEXT.match(p)]
    return _shorten(useful[0] if useful else LABELS.get(step_id, action.get("button", "")))


def _shorten(text: str) -> str:
    return text if len(text) <= _HINT_CHARS else text[: _HINT_CHARS - 1].rstrip() + "…"


def _conditional_hint(sub: dict, button: str) -> str:
    """For a step kb.json requires but the guideline only names inside another step's sub-points."""
    for action in sub.get("actions", []):
        for text in [action.get("text", ""), *action.get("subtext", [])]:
            if f"[{button}]" in text:
                return _shorten(_clean(text))
    return LABELS.get(step_id_for(button), button)


def _kb_requirements(kb_json_path: Path | None, guidelines: dict) -> dict[tuple[str, str], list[str]]:
    """(flow, subflow) -> kb.json's required action ids; subflows matched by position via ontology.json."""
    if kb_json_path is None:
        return {}
    ontology_path = kb_json_path.with_name("ontology.json")
    try:
        kb = json.loads(kb_json_path.read_text(encoding="utf-8"))
        intents = json.loads(ontology_path.read_text(encoding="utf-8"))["intents"]["subflows"]
    except (OSError, ValueError, KeyError) as exc:
        raise ProceduresError(f"Cannot read {kb_json_path} / {ontology_path}: {exc}") from exc
    required: dict[tuple[str, str], list[str]] = {}
    for flow, flow_data in guidelines.items():
        keys = intents.get(_slug(flow).replace("-", "_"), [])
        for subflow, key in zip(flow_data["subflows"], keys, strict=False):
            required[(flow, subflow)] = [key, *kb.get(key, [])]
    return required


def build_procedures(guidelines_path: str | Path, kb_json_path: str | Path | None = None) -> list[Procedure]:
    """One procedure per ABCD subflow; steps are its action buttons in order (deduplicated, "N/A" rows skipped).

    With ``kb_json_path`` (ABCD's kb.json, ontology.json beside it) the steps are cross-checked: a button
    that kb.json does not require (End Conversation) or whose guideline text says "Optional Step" is marked
    optional, and an action kb.json requires that the guideline only mentions inside another step (Refund
    Status's Update Order, Manage Pay Bill's Subscription Status) is added, as optional, where kb.json
    orders it.
    """
    try:
        guidelines = json.loads(Path(guidelines_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProceduresError(f"Cannot read ABCD guidelines {guidelines_path}: {exc}") from exc
    requirements = _kb_requirements(Path(kb_json_path) if kb_json_path else None, guidelines)
    procedures = []
    for flow, flow_data in guidelines.items():
        for subflow, sub in flow_data["subflows"].items():
            intent, *required = requirements.get((flow, subflow), [""])
            steps: dict[str, ProcedureStep] = {}
            for action in sub.get("actions", []):
                button = action.get("button", "")
                step_id = step_id_for(button)
                if button == NOT_A_STEP or step_id in steps:
                    continue
                not_required = bool(required) and step_id not in required
                optional = not_required or _clean(action.get("text", "")).lower().startswith("optional")
                hint = _hint(action, sub.get("instructions", []))
                steps[step_id] = ProcedureStep(step_id, LABELS.get(step_id, button), hint, optional)
            for position, step_id in enumerate(required):
                if step_id not in steps:
                    button = next((b for b, i in BUTTON_IDS.items() if i == step_id), step_id.replace("-", " ").title())
                    extra = ProcedureStep(step_id, LABELS.get(step_id, button), _conditional_hint(sub, button), True)
                    steps = _insert_before(steps, extra, required[position + 1:])
            procedures.append(Procedure(article_id_for(flow, subflow), subflow, flow, intent, tuple(steps.values())))
    return procedures


def _insert_before(steps: dict[str, ProcedureStep], extra: ProcedureStep, later: list[str]) -> dict[str, ProcedureStep]:
    """``steps`` with ``extra`` placed before the first of ``later`` present (else at the end)."""
    anchor = next((s for s in later if s in steps), None)
    items = list(steps.items())
    at = next((i for i, (k, _) in enumerate(items) if k == anchor), len(items))
    items.insert(at, (extra.id, extra))
    return dict(items)


def default_procedures_path() -> Path:
    return resource("kb", "procedures.json")


def write_procedures(procedures: Sequence[Procedure], path: str | Path) -> None:
    """The bundled JSON: source, licence and the procedures (stable order, UTF-8)."""
    payload = {"source": SOURCE, "licence": LICENCE, "procedures": [asdict(p) for p in procedures]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_procedures(path: str | Path | None = None) -> list[Procedure]:
    """Procedures from the bundled JSON (``resources/kb/procedures.json`` by default)."""
    path = Path(path) if path else default_procedures_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Procedure(**{**p, "steps": tuple(ProcedureStep(**s) for s in p["steps"])}) for p in data["procedures"]]
    except FileNotFoundError as exc:
        raise ProceduresError(f"Procedures file not found: {path}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProceduresError(f"Procedures file {path} is unreadable or corrupt: {exc}") from exc


class ProcedureTracker:
    """Follows one conversation: which procedure applies, and which of its steps the chat shows as done.

    ``select`` picks the procedure from the knowledge base's top article ids. It keeps the current one while
    it is still among the top ``top_k`` procedures retrieved, and switches only when another procedure has
    led ``patience`` times in a row with the current one out of the top ``top_k`` (one odd retrieval does
    not flip the checklist). On a switch, ticks the new procedure shares are kept and the recent turns are
    replayed against its other steps. ``observe`` reads one turn; ``checklist`` is what the panel shows.
    """

    def __init__(self, procedures: Sequence[Procedure] | None = None, *, top_k: int = 3, patience: int = 2,
                 history: int = 40) -> None:
        self._procedures = {p.article_id: p for p in (load_procedures() if procedures is None else procedures)}
        self.top_k, self.patience = top_k, patience
        self._turns: deque[Turn] = deque(maxlen=history)
        self.reset()

    def reset(self) -> None:
        """Forget the conversation (a new session)."""
        self._current: Procedure | None = None
        self._challenger: tuple[str, int] = ("", 0)
        self._facts = Facts()
        self._done: dict[str, tuple[str, int]] = {}  # step id -> (evidence, turn)
        self._turns.clear()
        self._asked = ""
        self._turn = 0
        self._last_role = ""

    @property
    def current(self) -> Procedure | None:
        return self._current

    def select(self, article_ids: Sequence[str]) -> bool:
        """Choose or keep the procedure from retrieved article ids (best first); True when it changed."""
        ranked = [self._procedures[a] for a in dict.fromkeys(article_ids) if a in self._procedures]
        if not ranked:
            return False
        leader = ranked[0]
        if self._current is None:
            self._switch(leader)
            return True
        if self._current in ranked[: self.top_k]:
            self._challenger = ("", 0)
            return False
        name, count = self._challenger
        count = count + 1 if name == leader.article_id else 1
        self._challenger = (leader.article_id, count)
        if count < self.patience:
            return False
        self._switch(leader)
        return True

    def _switch(self, procedure: Procedure) -> None:
        shared = {s.id for s in procedure.steps}
        self._done = {k: v for k, v in self._done.items() if k in shared}
        self._current, self._challenger = procedure, ("", 0)
        self._apply(detect(None, self._facts, self._labels(), frozenset(self._done)), self._turn)
        for turn in self._turns:
            self._apply(detect(turn, self._facts, self._labels(), frozenset(self._done)), turn.number)

    def _labels(self) -> dict[str, str]:
        return {s.id: s.label for s in self._current.steps} if self._current else {}

    def _apply(self, found: dict[str, str], turn: int) -> list[str]:
        for step_id, evidence in found.items():
            self._done.setdefault(step_id, (evidence, turn))
        return list(found)

    def observe(self, role: str, text: str, entities: Sequence[ScreenEntity] | None = None) -> list[str]:
        """Read one chat turn ("customer" or "agent"; other roles are ignored) and any screenshot entities.

        Returns the step ids of the current procedure that this turn ticked.
        """
        role = role.lower()
        chat = role in (CUSTOMER, AGENT)
        if not chat and not entities:
            return []
        self._turn += 1
        if entities:
            read_entities(entities, self._turn, self._facts)
        turn = None
        if chat:
            if role == AGENT:  # what the customer's next turns answer: the agent's latest block of turns
                self._asked = f"{self._asked} {text.lower()}" if self._last_role == AGENT else text.lower()
            turn = Turn(self._turn, role, text, self._asked if role == CUSTOMER else "")
            if role == CUSTOMER:
                read_customer_turn(turn, self._facts)
            self._turns.append(turn)
            self._last_role = role
        if self._current is None:
            return []
        return self._apply(detect(turn, self._facts, self._labels(), frozenset(self._done)), self._turn)

    def done_steps(self) -> dict[str, str]:
        """Step id -> evidence for the current procedure's ticked steps."""
        return {k: evidence for k, (evidence, _) in self._done.items()}

    def checklist(self) -> Checklist | None:
        """The current procedure with its ticks and next step; None before a procedure is selected."""
        if self._current is None:
            return None
        states = []
        for step in self._current.steps:
            evidence, turn = self._done.get(step.id, ("", 0))
            states.append(StepState(step, step.id in self._done, evidence, turn))
        next_step = next((s.step for s in states if not s.done and not s.step.optional), None)
        p = self._current
        return Checklist(p.article_id, p.title, p.flow, tuple(states), next_step)


def default_data_dir() -> Path:
    """``$ASSIST_DATA`` or ``../shared/data`` beside the repository."""
    return shared_data_dir()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assist.replies.procedures.tracker",
                                     description="Build the next-best-action procedures from ABCD's guidelines.")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="data folder holding abcd/")
    parser.add_argument("out", type=Path, nargs="?", default=default_procedures_path(), help="JSON file to write")
    args = parser.parse_args(argv)
    abcd = args.data / "abcd"
    try:
        procedures = build_procedures(abcd / "guidelines.json", abcd / "kb.json")
    except ProceduresError as exc:
        parser.exit(1, f"error: {exc}\n")
    write_procedures(procedures, args.out)
    steps = sum(len(p.steps) for p in procedures)
    print(f"Wrote {len(procedures)} procedures ({steps} steps) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
