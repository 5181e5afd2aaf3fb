"""The screenshot encoder: preprocess -> OCR (PP-OCR models on onnxruntime) -> reading order -> entities.

``ScreenReader`` loads the detector and recogniser once: the PP-OCRv6 "small" ONNX files shipped
inside the ``rapidocr`` wheel (nothing is downloaded), in onnxruntime sessions built here with the
providers from ``runtime.onnx_providers()`` (CUDA when it can run, else CPU), handed to rapidocr
for its pre/post-processing. It reports the provider the sessions really got. ``read()`` returns a
``ScreenAnalysis``: text lines with boxes in original-image pixels and confidences, the rows in
reading order, the full text, the entities and the time taken.

Settings, and why (measured on this project's 2-core CPU; see benchmarks/RESULTS.md):
- no text-direction classifier: screen text is upright, and it costs ~5% of the time;
- the detector sees the image shrunk to at most ``DET_LIMIT_SIDE`` px on its longest side
  (rapidocr's default brings the *short* side up to 736 px: ~1.5x the work on a 1280x800 screen,
  same text); crops for recognition still come from the full-resolution prepared image;
- recognition batches are padded to at least ``REC_MIN_WIDTH`` px instead of 320 (short labels
  such as "Total:" are common on screens; same text, less time);
- onnxruntime threads do not spin while idle: with other work on the 2 cores (the GUI, the text
  and voice models) spinning threads made a read 35-50% slower;
- lines recognised with confidence below ``MIN_CONFIDENCE`` are dropped (and counted).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assist.inference.errors import ModelUnavailable
from assist.inference.runtime import CPU, CUDA, cuda_problem, onnx_providers
from assist.inference.screen.entities import Entity, extract_entities
from assist.inference.screen.layout import reading_order
from assist.inference.screen.preprocess import MAX_SIDE, UPSCALE_BELOW, ImageSource, PreparedImage, prepare

log = logging.getLogger(__name__)

# On 24 test screens (rendered and ABCD pages; clean, JPEG q15-20, shrunk to 0.5x and 0.4x; noise)
# every recognised line scored below 0.8 was wrong (noise read as words, a photo read as "X"),
# 1 in 3 between 0.8 and 0.9, 1 in 150 above 0.9. Lines below the threshold are dropped.
MIN_CONFIDENCE = 0.8
DET_LIMIT_SIDE = 960
REC_MIN_WIDTH = 160
REC_BATCH = 6
DET_MODEL = "PP-OCRv6_det_small.onnx"  # shipped in the rapidocr 3.10 wheel
REC_MODEL = "PP-OCRv6_rec_small.onnx"
NO_TEXT = "no text found"


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float  # recogniser's score, 0..1
    box: tuple[int, int, int, int]  # x, y, w, h in pixels of the original image


@dataclass(frozen=True)
class ScreenAnalysis:
    lines: tuple[TextLine, ...]  # in reading order
    rows: tuple[str, ...]  # lines on the same visual row joined by a space, in reading order
    text: str  # the rows joined by newlines ("" when nothing was read)
    entities: tuple[Entity, ...]  # Entity.line indexes ``rows``
    elapsed_ms: float
    provider: str  # onnxruntime provider that ran the models, e.g. "CPUExecutionProvider"
    image_size: tuple[int, int]  # (width, height) of the original image
    dropped_low_confidence: int = 0
    note: str = ""  # why there is no text ("no text found (...)"), else ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def has_text(self) -> bool:
        return bool(self.lines)


class ScreenReader:
    """Loads the OCR models once; ``read(image)`` analyses one screenshot. Safe to share across threads."""

    def __init__(self, *, providers: Sequence[str] | None = None, threads: int | None = None,
                 spin: bool = False, min_confidence: float = MIN_CONFIDENCE, det_limit_side: int = DET_LIMIT_SIDE,
                 det_limit_type: str = "max", rec_batch: int = REC_BATCH, rec_min_width: int = REC_MIN_WIDTH,
                 det_model: Path | None = None, rec_model: Path | None = None,
                 grayscale: bool = False, contrast: bool = False, upscale_below: int = UPSCALE_BELOW,
                 max_side: int = MAX_SIDE, products: Iterable[str] = ()) -> None:
        self.min_confidence = min_confidence
        self.prepare_options: dict[str, Any] = {"grayscale": grayscale, "contrast": contrast, "upscale_below": upscale_below,
                                "max_side": max_side}
        self.products = tuple(products)
        self.requested_providers = list(providers) if providers is not None else onnx_providers()
        self._lock = threading.Lock()
        self.settings = EngineSettings(tuple(self.requested_providers), threads, spin, det_limit_side, det_limit_type,
                                       rec_batch, rec_min_width, det_model, rec_model)
        self._engine, sessions = _build_engine(self.settings)
        self._warm_up()
        used = _detector_session(self._engine)
        if used is not sessions[0]:  # a rapidocr that ignores custom sessions: report what it built
            log.warning("rapidocr did not use the OCR sessions built for it; reporting its own")
        self.providers = list((used or sessions[0]).get_providers())  # what onnxruntime actually gave us
        self.provider = self.providers[0]
        if CUDA in self.requested_providers and self.provider != CUDA:
            log.warning("OCR asked for CUDA but runs on %s", self.provider)
        elif providers is None and self.provider == CPU and cuda_problem():
            log.info("OCR runs on CPU: %s", cuda_problem())

    def _warm_up(self) -> None:
        """Run once on a tiny rendered line: loads both models and their first-call setup."""
        import cv2

        canvas = np.full((48, 160, 3), 255, np.uint8)
        cv2.putText(canvas, "Ready 42", (6, 32), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
        try:
            self._engine(canvas)
        except Exception as exc:  # a corrupt or incompatible model surfaces here
            raise ModelUnavailable(f"The OCR models could not run: {exc}") from exc

    def read(self, image: ImageSource) -> ScreenAnalysis:
        """OCR one screenshot (encoded bytes, a file path, or an array; 3-channel arrays are BGR).

        Raises BadInput for missing or unreadable files; a blank or tiny image gives an analysis
        with no lines and ``note`` "no text found (...)".
        """
        start = time.perf_counter()
        prepared = prepare(image, **self.prepare_options)
        after_prepare = time.perf_counter()
        if prepared.is_blank:
            return self._empty(prepared, prepared.blank_reason, start, {"preprocess": _ms(start, after_prepare)})
        with self._lock:
            result = self._engine(prepared.image)
        after_ocr = time.perf_counter()
        kept, dropped = self._lines(result, prepared)
        order = reading_order([line.box for line in kept])
        lines = tuple(kept[i] for row in order for i in row)
        rows = tuple(" ".join(kept[i].text for i in row) for row in order)
        entities = tuple(extract_entities(rows, self.products))
        end = time.perf_counter()
        timings = {"preprocess": _ms(start, after_prepare), "ocr": _ms(after_prepare, after_ocr),
                   "layout_entities": _ms(after_ocr, end)}
        if not lines:
            note = NO_TEXT + (f" ({dropped} unclear fragment{'s' * (dropped != 1)} ignored)" if dropped else "")
            return self._empty(prepared, note, start, timings, dropped)
        return ScreenAnalysis(lines, rows, "\n".join(rows), entities, _ms(start, end), self.provider,
                              prepared.original_size, dropped, "", timings)

    def _lines(self, result: Any, prepared: PreparedImage) -> tuple[list[TextLine], int]:
        boxes, texts, scores = (getattr(result, name, None) for name in ("boxes", "txts", "scores"))
        if boxes is None or texts is None or scores is None:
            return [], 0
        width, height = prepared.original_size
        kept: list[TextLine] = []
        dropped = 0
        for polygon, raw_text, score in zip(boxes, texts, scores):
            text = " ".join(str(raw_text).split())
            if not text:
                continue
            if float(score) < self.min_confidence:
                dropped += 1
                continue
            points = np.asarray(polygon, dtype=np.float64) / prepared.scale
            x0 = max(0, math.floor(points[:, 0].min()))
            y0 = max(0, math.floor(points[:, 1].min()))
            x1 = min(width, math.ceil(points[:, 0].max()))
            y1 = min(height, math.ceil(points[:, 1].max()))
            kept.append(TextLine(text, round(float(score), 4), (x0, y0, max(1, x1 - x0), max(1, y1 - y0))))
        return kept, dropped

    def _empty(self, prepared: PreparedImage, note: str, start: float, timings: dict[str, float],
               dropped: int = 0) -> ScreenAnalysis:
        return ScreenAnalysis((), (), "", (), _ms(start, time.perf_counter()), self.provider,
                              prepared.original_size, dropped, note, timings)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)


@dataclass(frozen=True)
class EngineSettings:
    """How the OCR models run; the defaults are the measured choices (see the module docstring)."""

    providers: tuple[str, ...]
    threads: int | None = None  # onnxruntime intra-op threads (None: one per physical core)
    spin: bool = False  # let idle onnxruntime threads spin; off: kinder to the GUI and other models on 2 cores
    det_limit_side: int = DET_LIMIT_SIDE
    det_limit_type: str = "max"  # "max": longest side at most det_limit_side; "min": short side at least
    rec_batch: int = REC_BATCH
    rec_min_width: int = REC_MIN_WIDTH
    det_model: Path | None = None  # default: the detector shipped in the rapidocr wheel
    rec_model: Path | None = None  # default: the recogniser shipped in the rapidocr wheel


def _import_runtime() -> tuple[Any, Any, Any]:
    try:
        import onnxruntime
        from rapidocr import RapidOCR
        from rapidocr.utils.typings import EngineType
    except ImportError as exc:
        raise ModelUnavailable(f"OCR needs the 'rapidocr' and 'onnxruntime-gpu' packages ({exc.name} is missing).") \
            from exc
    return onnxruntime, RapidOCR, EngineType


def bundled_model(name: str) -> Path:
    """Path of an ONNX model shipped inside the rapidocr wheel (nothing is downloaded)."""
    import rapidocr

    path = Path(rapidocr.__file__).resolve().parent / "models" / name
    if not path.is_file():
        raise ModelUnavailable(f"The OCR model {name} is not in the installed rapidocr package ({path.parent}); "
                               "install rapidocr 3.10.x.")
    return path


def _session(ort: Any, model: Path, settings: EngineSettings) -> Any:
    """Our own onnxruntime session, so that the providers and threads are chosen in one place."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # input shapes change with every screen; the arena only grows
    if settings.threads:
        options.intra_op_num_threads = int(settings.threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings.spin else "0")
    providers: list[Any] = []
    for name in settings.providers:
        if name == CUDA:
            # crops vary in width: an exhaustive cuDNN search for each new shape would dominate
            providers.append((CUDA, {"cudnn_conv_algo_search": "HEURISTIC", "arena_extend_strategy": "kSameAsRequested"}))
        else:
            providers.append(name)
    try:
        return ort.InferenceSession(str(model), sess_options=options, providers=providers)
    except Exception as exc:
        raise ModelUnavailable(f"The OCR model {model.name} could not be loaded: {exc}") from exc


def _build_engine(settings: EngineSettings) -> Any:
    """rapidocr's pipeline (pre/post-processing) around our sessions (its "custom session" hook)."""
    ort, rapid_ocr, engine_type = _import_runtime()
    det = _session(ort, settings.det_model or bundled_model(DET_MODEL), settings)
    rec = _session(ort, settings.rec_model or bundled_model(REC_MODEL), settings)
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.text_score": 0.0,  # ScreenReader filters (and counts) low-confidence lines itself
        "Global.use_cls": False,
        "Global.use_preprocess_img": False,  # preprocess.prepare() bounds the size
        "Det.engine_type": engine_type.ONNXRUNTIME,
        "Rec.engine_type": engine_type.ONNXRUNTIME,
        "Cls.engine_type": engine_type.ONNXRUNTIME,
        "Det.limit_type": settings.det_limit_type,
        "Det.limit_side_len": settings.det_limit_side,
        "Rec.rec_batch_num": settings.rec_batch,
        "Rec.rec_img_shape": [3, 48, settings.rec_min_width],
    }
    try:
        from omegaconf import flag_override

        engine = rapid_ocr(params=params)
        with flag_override(engine.cfg, "allow_objects", True):
            engine.cfg.Det.session = det  # picked up when rapidocr builds its detector / recogniser
            engine.cfg.Rec.session = rec
    except Exception as exc:
        raise ModelUnavailable(f"The OCR engine could not be set up: {exc}") from exc
    return engine, [det, rec]


def _detector_session(engine: Any) -> Any:
    """The onnxruntime session rapidocr's detector runs (it keeps it at text_det.session.session)."""
    return getattr(getattr(getattr(engine, "text_det", None), "session", None), "session", None)
