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


# 0005's figure: the sum of the four negative emotions (0008 replaced it with the strongest one, named)
NEGATIVE = "+".join(f"coalesce(json_extract(new.emotion_probs, '$.{e}'), 0)" for e in ("anger", "disgust", "fear",
                                                                                    "sadness"))


@migrations(name="0005_session_stats")
def _session_stats(db: Database) -> None:
    """Per-session figures for the supervisor's list (turns, peak negative emotion, escalations, suggestions shown
    and used), kept by triggers as rows arrive, so listing 10,000 sessions never re-reads a million events."""
    for sql in (
        "CREATE TABLE session_stats (session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE, "
        "messages INTEGER NOT NULL DEFAULT 0, customer_turns INTEGER NOT NULL DEFAULT 0, "
        "peak_negative REAL NOT NULL DEFAULT 0, peak_emotion TEXT NOT NULL DEFAULT '', "
        "escalations INTEGER NOT NULL DEFAULT 0, suggestions INTEGER NOT NULL DEFAULT 0, "
        "used INTEGER NOT NULL DEFAULT 0, last_at REAL)",
        "CREATE TRIGGER session_stats_event AFTER INSERT ON events BEGIN "
        "INSERT INTO session_stats (session_id, messages, last_at) VALUES (new.session_id, 1, new.created_at) "
        "ON CONFLICT(session_id) DO UPDATE SET messages = messages + 1, "
        "last_at = max(coalesce(last_at, 0), excluded.last_at); END",
        "CREATE TRIGGER session_stats_insight AFTER INSERT ON insights BEGIN "
        "INSERT INTO session_stats (session_id, customer_turns, peak_negative, peak_emotion, escalations) "
        f"VALUES (new.session_id, 1, {NEGATIVE}, coalesce(new.emotion, ''), new.escalation_level = 'high') "
        "ON CONFLICT(session_id) DO UPDATE SET customer_turns = customer_turns + 1, "
        "peak_emotion = CASE WHEN excluded.peak_negative > peak_negative THEN excluded.peak_emotion "
        "ELSE peak_emotion END, peak_negative = max(peak_negative, excluded.peak_negative), "
        "escalations = escalations + excluded.escalations; END",
        "CREATE TRIGGER session_stats_suggestion AFTER INSERT ON suggestions BEGIN "
        "INSERT INTO session_stats (session_id, suggestions) VALUES (new.session_id, 1) "
        "ON CONFLICT(session_id) DO UPDATE SET suggestions = suggestions + 1; END",
        "CREATE TRIGGER session_stats_feedback AFTER INSERT ON feedback WHEN new.action IN ('inserted', 'copied') "
        "BEGIN INSERT INTO session_stats (session_id, used) VALUES (new.session_id, 1) "
        "ON CONFLICT(session_id) DO UPDATE SET used = used + 1; END",
        # the figures for what is already recorded
        "INSERT INTO session_stats (session_id) SELECT id FROM sessions",
        "UPDATE session_stats SET messages = (SELECT count(*) FROM events e WHERE e.session_id = "
        "session_stats.session_id), last_at = (SELECT max(created_at) FROM events e WHERE e.session_id = "
        "session_stats.session_id)",
        f"UPDATE session_stats SET customer_turns = (SELECT count(*) FROM insights i WHERE i.session_id = "
        f"session_stats.session_id), escalations = (SELECT count(*) FROM insights i WHERE i.session_id = "
        f"session_stats.session_id AND i.escalation_level = 'high'), peak_negative = coalesce((SELECT max("
        f"{NEGATIVE.replace('new.', 'i.')}) FROM insights i WHERE i.session_id = session_stats.session_id), 0), "
        f"peak_emotion = coalesce((SELECT i.emotion FROM insights i WHERE i.session_id = session_stats.session_id "
        f"ORDER BY {NEGATIVE.replace('new.', 'i.')} DESC LIMIT 1), '')",
        "UPDATE session_stats SET suggestions = (SELECT count(*) FROM suggestions s WHERE s.session_id = "
        "session_stats.session_id), used = (SELECT count(*) FROM feedback f WHERE f.session_id = "
        "session_stats.session_id AND f.action IN ('inserted', 'copied'))",
    ):
        db.execute(sql)


@migrations(name="0006_annotations")
def _annotations(db: Database) -> None:
    """A supervisor's corrections of a customer turn's emotion / intent and comments on a turn or a session, with
    who and when; kept apart from the model's outputs (insights), which are never changed. The latest label of a
    turn wins; ``replaces`` names the earlier annotation a new one corrects. Rows go with their session or event
    (retention)."""
    for sql in (
        "CREATE TABLE annotations (id TEXT PRIMARY KEY, "
        "session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, "
        "event_id TEXT REFERENCES events(id) ON DELETE CASCADE, "
        "field TEXT NOT NULL CHECK (field IN ('emotion', 'intent', 'comment')), "
        "value TEXT NOT NULL, author TEXT NOT NULL, created_at REAL NOT NULL, "
        "replaces TEXT REFERENCES annotations(id) ON DELETE SET NULL, "
        "CHECK (event_id IS NOT NULL OR field = 'comment'))",
        "CREATE INDEX idx_annotations_session_id ON annotations (session_id)",
        "CREATE INDEX idx_annotations_event_id ON annotations (event_id)",
    ):
        db.execute(sql)


@migrations(name="0007_conversation_intent")
def _conversation_intent(db: Database) -> None:
    """The conversation's intent beside the turn's own (evidence accumulated over the customer's turns)."""
    db.table("insights").add_column("conversation_intent", str, not_null_default="")
    db.table("insights").add_column("conversation_intent_confidence", float, not_null_default=0.0)


NEGATIVE_EMOTIONS = ("anger", "disgust", "fear", "sadness")
PEAK_MIGRATION = "0008_peak_one_negative_emotion"


def strongest_negative_sql(probs: str) -> tuple[str, str]:
    """SQL for a turn's strongest negative emotion, read from its JSON ``probs`` column: (its probability, its
    name; '' when none of the four has any). On a tie the one listed first is named: the figure is the same."""
    values = {e: f"coalesce(json_extract({probs}, '$.{e}'), 0)" for e in NEGATIVE_EMOTIONS}
    peak = "max(" + ", ".join(values.values()) + ")"
    cases = []
    for index, emotion in enumerate(NEGATIVE_EMOTIONS[:-1]):
        others = " AND ".join(f"{values[emotion]} >= {values[o]}" for o in NEGATIVE_EMOTIONS[index + 1:])
        cases.append(f"WHEN {others} THEN '{emotion}'")
    name = f"CASE WHEN {peak} <= 0 THEN '' {' '.join(cases)} ELSE '{NEGATIVE_EMOTIONS[-1]}' END"
    return peak, name


def session_peak_sql(session_id: str) -> tuple[str, str]:
    """SQL for a session's peak negative emotion from its insights (see ``strongest_negative_sql``): (the highest
    probability of one negative emotion in any customer turn, that emotion's name); the earliest such turn wins."""
    peak, name = strongest_negative_sql("i.emotion_probs")
    turns = f"FROM insights i WHERE i.session_id = {session_id}"
    return (f"coalesce((SELECT max({peak}) {turns}), 0)",
            f"coalesce((SELECT {name} {turns} ORDER BY {peak} DESC, i.created_at, i.rowid LIMIT 1), '')")


@migrations(name=PEAK_MIGRATION)
def _peak_one_negative_emotion(db: Database) -> None:
    """The session's peak negative emotion becomes one named figure: the highest probability of a single negative
    emotion (anger, disgust, fear or sadness) in any customer turn, with that emotion's name. 0005 kept the sum of
    the four, labelled with the turn's top emotion ("99% sadness" when sadness was 60%, or "17% joy")."""
    peak, name = strongest_negative_sql("new.emotion_probs")
    stored_peak, stored_name = session_peak_sql("session_stats.session_id")
    for sql in (
        "DROP TRIGGER session_stats_insight",
        "CREATE TRIGGER session_stats_insight AFTER INSERT ON insights BEGIN "
        "INSERT INTO session_stats (session_id, customer_turns, peak_negative, peak_emotion, escalations) "
        f"VALUES (new.session_id, 1, {peak}, {name}, new.escalation_level = 'high') "
        "ON CONFLICT(session_id) DO UPDATE SET customer_turns = customer_turns + 1, "
        "peak_emotion = CASE WHEN excluded.peak_negative > peak_negative THEN excluded.peak_emotion "
        "ELSE peak_emotion END, peak_negative = max(peak_negative, excluded.peak_negative), "
        "escalations = escalations + excluded.escalations; END",
        # the figures of what is already recorded
        f"UPDATE session_stats SET peak_negative = {stored_peak}, peak_emotion = {stored_name}",
    ):
        db.execute(sql)


@migrations(name="0009_used_means_sent")
def _used_means_sent(db: Database) -> None:
    """A suggestion counts as used when it was sent (as it was, or after the agent edited it) or copied to another
    tool, not when it was only put in the message box (the agent may delete it). Sessions already recorded keep
    their figure (they were recorded when inserting counted)."""
    for sql in (
        "DROP TRIGGER session_stats_feedback",
        "CREATE TRIGGER session_stats_feedback AFTER INSERT ON feedback "
        "WHEN new.action IN ('sent', 'edited_sent', 'copied') "
        "BEGIN INSERT INTO session_stats (session_id, used) VALUES (new.session_id, 1) "
        "ON CONFLICT(session_id) DO UPDATE SET used = used + 1; END",
    ):
        db.execute(sql)


@migrations(name="0010_session_team")
def _session_team(db: Database) -> None:
    """The agent's team beside the agent's name on every session (settings: team); '' for sessions before."""
    db.table("sessions").add_column("team", str, not_null_default="")


def apply_migrations(db: Database) -> list[str]:
    """Apply pending migrations; return the names that were applied now."""
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending


def applied_migrations(db: Database) -> list[str]:
    """Names of this set's migrations already recorded in the database."""
    return [migration.name for migration in migrations.applied(db)]


__all__ = ["JSON_COLUMNS", "MIGRATION_SET", "NEGATIVE_EMOTIONS", "PEAK_MIGRATION", "applied_migrations",
           "apply_migrations", "migrations", "session_peak_sql", "strongest_negative_sql"]
