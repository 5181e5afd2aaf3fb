"""Chat sources in one place: transcript import, a tailed JSON-lines file, and a localhost socket feed.

    from assist.capture.chat_feed import parse_transcript, JsonlFileTailer, ChatFeedServer, load_or_create_token
    result = parse_transcript(Path("chat.txt"))          # ImportResult(messages, problems, ...)
    tailer = JsonlFileTailer(path, on_message, on_problem); tailer.start(); ...; tailer.stop()
    server = ChatFeedServer(on_message, on_problem, token=load_or_create_token(config_dir))
    server.start(); server.port; ...; server.stop()

Each source yields ``FeedMessage``. The record format and speaker names are in ``chat_message``,
the import rules in ``chat_transcript``, the file feed in ``chat_tailer``, the socket protocol
(for integrators) in ``chat_socket``.
"""

from __future__ import annotations

from assist.capture.chat_message import (
    MAX_LINE_BYTES,
    MAX_TEXT_CHARS,
    SPEAKER_ROLES,
    FeedMessage,
    FeedSource,
    message_from_record,
    role_from_speaker,
)
from assist.capture.chat_socket import TOKEN_FILE, ChatFeedServer, load_or_create_token, send_messages
from assist.capture.chat_tailer import JsonlFileTailer
from assist.capture.chat_transcript import MAX_IMPORT_BYTES, MAX_IMPORT_MESSAGES, ImportResult, parse_transcript

__all__ = [
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_MESSAGES",
    "MAX_LINE_BYTES",
    "MAX_TEXT_CHARS",
    "SPEAKER_ROLES",
    "TOKEN_FILE",
    "ChatFeedServer",
    "FeedMessage",
    "FeedSource",
    "ImportResult",
    "JsonlFileTailer",
    "load_or_create_token",
    "message_from_record",
    "parse_transcript",
    "role_from_speaker",
    "send_messages",
]
