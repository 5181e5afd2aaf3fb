"""Screenshot encoder: OpenCV preprocessing, OCR (rapidocr on onnxruntime), reading order, entities.

    from assist.inference.screen import ScreenReader
    reader = ScreenReader()              # loads the OCR models once (CUDA if usable, else CPU)
    analysis = reader.read("shot.png")   # or PNG/JPEG bytes, or a BGR numpy array
    analysis.text, analysis.entities, analysis.provider

Names are imported on first use, so ``from assist.inference.screen.entities import ...`` stays
pure Python (no OpenCV, no onnxruntime).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ScreenReader": "ocr", "ScreenAnalysis": "ocr", "TextLine": "ocr", "MIN_CONFIDENCE": "ocr",
    "Entity": "entities", "extract_entities": "entities",
    "prepare": "preprocess", "PreparedImage": "preprocess",
    "reading_order": "layout",
    "onnx_providers": "runtime",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
