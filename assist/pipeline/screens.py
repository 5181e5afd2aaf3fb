"""Screenshots in a session: grab or load -> store the file (size-capped) -> OCR + entities -> a journal event.

The OCR text and the entities are recorded like any other turn (redacted before writing); the image file
lives in the session's data folder and its path is in the event's ``meta``. The latest screenshot's
reading is kept for the fusion model, which uses it as the screen modality of the next customer turns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.capture.screenshot import CapturedImage, capture_screen, image_from_bytes, load_image_file, store_screenshot
from assist.domain import EventKind, Role, ScreenEntity
from assist.inference.fusion.features import screen_flags
from assist.pipeline.controller import SessionController, Turn


def default_data_dir() -> Path:
    """Screenshots (and recordings) live beside the default journal, per session."""
    from assist.storage.connection import default_journal_path

    return default_journal_path().parent / "sessions"


@dataclass
class ScreenshotResult:
    turn: Turn
    path: Path
    entities: list[ScreenEntity]
    note: str
    elapsed_ms: dict[str, float]


class ScreenshotService:
    """Owns the (lazily loaded) OCR reader; used from the pipeline's thread."""

    def __init__(self, controller: SessionController, data_dir: Path | None = None, reader: Any = None) -> None:
        self.controller = controller
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self._reader = reader

    @property
    def reader(self) -> Any:
        if self._reader is None:
            from assist.inference.screen import ScreenReader

            self._reader = ScreenReader()
        return self._reader

    def grab(self, region: tuple[int, int, int, int] | None = None, monitor: int = 0) -> ScreenshotResult:
        """Capture the screen (or a region of it) and add it to the session. Raises ScreenCaptureError."""
        return self.add(capture_screen(region=region, monitor=monitor))

    def add_file(self, path: str | Path) -> ScreenshotResult:
        return self.add(load_image_file(path))

    def add_bytes(self, data: bytes, name: str = "clipboard") -> ScreenshotResult:
        return self.add(image_from_bytes(data, name=name))

    def add(self, image: CapturedImage) -> ScreenshotResult:
        session = self.controller.session
        if session is None:
            session = self.controller.start_session()
        timings = {}
        start = time.perf_counter()
        stored = store_screenshot(image, self.data_dir / session.id)
        timings["store"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        analysis = self.reader.read(np.ascontiguousarray(image.pixels[:, :, ::-1]))  # the reader takes BGR
        timings["ocr"] = (time.perf_counter() - start) * 1000
        entities = [ScreenEntity(e.kind, e.value) for e in analysis.entities]
        meta = {"path": str(stored.path), "width": stored.width, "height": stored.height, "bytes": stored.bytes,
                "sha256": stored.sha256, "source": image.source, "entities": [e.to_dict() for e in entities], "note": analysis.note,
                "lines": len(analysis.lines)}
        turn = self.controller.submit(Role.AGENT, analysis.text, kind=EventKind.SCREENSHOT, meta=meta)
        self.controller.set_screen(self._screen_features(analysis), entities)
        return ScreenshotResult(turn, stored.path, entities, analysis.note, timings)

    def _screen_features(self, analysis: Any) -> np.ndarray | None:
        """Text features of the OCR text + entity flags (the fusion model's screen token); None without text."""
        if not analysis.text.strip() or self.controller.engines.fusion is None:
            return None
        text = self.controller.engines.text.analyze([analysis.text[:4000]])[0]
        features = getattr(text, "features", None)
        if features is None:
            return None
        flags = screen_flags([(e.kind, e.value) for e in analysis.entities])
        return np.concatenate([features, flags]).astype(np.float32)


__all__ = ["ScreenshotResult", "ScreenshotService", "default_data_dir"]
