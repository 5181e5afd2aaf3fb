"""The journal schema as named migrations, recorded in ``_sqlite_migrations``.

Never edit a migration that has shipped: add a new one below it.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

MIGRATION_SET = "assist"
migrations = Migrations(MIGRATION_SET)

JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": ("capture",),
    "events": ("redactions", "meta"),
    "insights": (
        "emotion_probs",
        "sentiment_probs",
        "intent_probs",
        "escalation_reasons",
        "model_versions",
        "timings_ms",
        "notes",
        "contributions",
    ),
}


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    """Sessions, chat events, insights with their suggestions, and agent feedback."""
    db.table("sessions").create(
        {
            "id": str,
            "started_at": float,
            "ended_at": float,
            "agent": str,
            "source": str,
            "redaction_enabled": int,
            "app_version": str,
        },
        pk="id",
        not_null={"started_at", "redaction_enabled"},
    )
    db.table("events").create(
        {
            "id": str,
            "session_id": str,
            "kind": str,  # 'chat' now; 'utterance' and 'screenshot' later
            "role": str,
            "text": str,
            "created_at": float,
            "redactions": str,  # JSON: {"email": 1, ...}
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "kind", "created_at"},
    )
    db.table("insights").create(
        {
            "id": str,
            "session_id": str,
            "message_id": str,
            "created_at": float,
            "emotion": str,
            "emotion_confidence": float,
            "emotion_probs": str,
            "sentiment": str,
            "sentiment_confidence": float,
            "sentiment_probs": str,
            "intent": str,
            "intent_confidence": float,
            "intent_probs": str,
            "escalation_level": str,
            "escalation_score": float,
            "escalation_reasons": str,
            "model_versions": str,
            "timings_ms": str,
            "device": str,
            "notes": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id"), ("message_id", "events", "id")],
        not_null={"session_id", "message_id", "created_at"},
    )
    db.table("suggestions").create(
        {
            "id": str,
            "insight_id": str,
            "session_id": str,
            "rank": int,
            "text": str,
            "source_title": str,
            "kb_entry_id": str,
            "score": float,
        },
        pk="id",
        foreign_keys=[("insight_id", "insights", "id"), ("session_id", "sessions", "id")],
        not_null={"insight_id", "session_id", "rank"},
    )
    db.table("feedback").create(
        {
            "id": str,
            "session_id": str,
            "suggestion_id": str,
            "action": str,
            "created_at": float,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "action", "created_at"},
    )
    db.table("events").create_index(["session_id", "created_at"])
    db.table("insights").create_index(["session_id", "created_at"])
    db.table("insights").create_index(["message_id"])
    db.table("suggestions").create_index(["session_id"])
    db.table("suggestions").create_index(["insight_id", "rank"])
    db.table("feedback").create_index(["session_id", "created_at"])
    db.table("sessions").create_index(["started_at"])


@migrations(name="0002_events_fts")
def _events_fts(db: Database) -> None:
    """Full-text index on event text, kept in sync by triggers."""
    db.table("events").enable_fts(["text"], fts_version="FTS5", create_triggers=True)


@migrations(name="0003_insight_contributions")
def _insight_contributions(db: Database) -> None:
    """What each input (text, context, voice, screen) contributed to an Insight (JSON, fusion model)."""
    db.table("insights").add_column("contributions", str, not_null_default="{}")


@migrations(name="0004_live_capture")
def _live_capture(db: Database) -> None:
    """Spoken utterances, screenshots and fed messages carry metadata (JSON); sessions keep capture statistics
    (per channel: seconds, driver overflows, frames dropped, device errors)."""
    db.table("events").add_column("meta", str, not_null_default="{}")
    db.table("sessions").add_column("capture", str, not_null_default="{}")


def apply_migrations(db: Database) -> list[str]:
    """Apply pending migrations; return the names that were applied now."""
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending


def applied_migrations(db: Database) -> list[str]:
    """Names of this set's migrations already recorded in the database."""
    return [migration.name for migration in migrations.applied(db)]


__all__ = ["JSON_COLUMNS", "MIGRATION_SET", "applied_migrations", "apply_migrations", "migrations"]
