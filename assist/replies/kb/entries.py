"""Knowledge base: entries, loading, and import of ABCD's agent guidelines.

An entry is one procedure (an ABCD subflow): what the customer wants, the steps the agent
follows, and a reply the agent can send to start it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from assist.paths import resource
from assist.replies.kb.abcd_phrases import ACTION_ASKS, FLOW_TOPICS, GENERAL_ENTRIES, SUBFLOW_TOPICS


class KnowledgeBaseError(Exception):
    """The knowledge base file is missing or unreadable."""


@dataclass(frozen=True)
class KBEntry:
    id: str
    title: str
    category: str
    summary: str
    steps: tuple[str, ...]
    reply: str

    @property
    def search_text(self) -> str:
        """What retrieval matches a customer message against."""
        return f"{self.title}. {self.category}. {self.summary}"


def default_kb_path() -> Path:
    return resource("kb", "abcd_guidelines_kb.json")


def load_kb(path: str | Path | None = None) -> list[KBEntry]:
    path = Path(path) if path else default_kb_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [KBEntry(**{**e, "steps": tuple(e["steps"])}) for e in data["entries"]]
    except FileNotFoundError as exc:
        raise KnowledgeBaseError(f"Knowledge base not found: {path}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KnowledgeBaseError(f"Knowledge base {path} is unreadable or corrupt: {exc}") from exc
    if not entries:
        raise KnowledgeBaseError(f"Knowledge base {path} has no entries.")
    return entries


def _clean(text: str) -> str:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def compose_reply(flow: str, subflow: str, buttons: list[str]) -> str:
    """A reply that opens the procedure: what we will do, and what we need from the customer."""
    topic = SUBFLOW_TOPICS.get(subflow) or FLOW_TOPICS.get(flow, "that")
    asks: list[str] = []
    for button in buttons:
        ask = ACTION_ASKS.get(button)
        if ask and ask not in asks and len(asks) < 2:
            asks.append(ask)
    reply = f"I can help you with {topic}."
    if asks:
        needed = asks[0] if len(asks) == 1 else ", ".join(asks[:-1]) + " and " + asks[-1]
        reply += f" To get started, could you please give me {needed}?"
    else:
        reply += " Could you tell me a little more about what you need?"
    return reply


def general_entries() -> list[KBEntry]:
    return [KBEntry(**{**e, "steps": tuple(e["steps"])}) for e in GENERAL_ENTRIES]  # type: ignore[arg-type]


def import_abcd_guidelines(guidelines_path: Path) -> list[KBEntry]:
    """One entry per ABCD subflow (flow description, instructions and action texts)."""
    data = json.loads(guidelines_path.read_text(encoding="utf-8"))
    entries = []
    for flow, flow_data in data.items():
        for subflow, sub in flow_data["subflows"].items():
            actions = sub.get("actions", [])
            steps = [_clean(a["text"]) for a in actions if a.get("text")]
            buttons = [a.get("button", "") for a in actions]
            summary = _clean(" ".join(sub.get("instructions", [])[:1]))
            entries.append(
                KBEntry(
                    id=f"abcd/{_slug(flow)}/{_slug(subflow)}",
                    title=subflow,
                    category=f"{flow} ({_clean(flow_data.get('description', ''))})",
                    summary=f"{SUBFLOW_TOPICS.get(subflow, subflow).capitalize()}. {summary}",
                    steps=tuple(steps),
                    reply=compose_reply(flow, subflow, buttons),
                )
            )
    return entries


def write_kb(entries: list[KBEntry], path: Path, source: str) -> None:
    payload = {
        "source": source,
        "licence": "MIT (ABCD, asappresearch/abcd); replies written for Assist",
        "entries": [asdict(e) for e in entries],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
