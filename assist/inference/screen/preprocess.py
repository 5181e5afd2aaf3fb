"""OpenCV preprocessing for screenshots: safe decoding, colour normalisation and scale bounds.

Every input (encoded bytes, a file path, or a numpy array) becomes an 8-bit, 3-channel BGR image:
16-bit and float images are rescaled, grey and palette images are expanded, CMYK JPEGs are
converted by the decoder, and alpha is composited over white (a transparent PNG would otherwise
show its hidden RGB, often black text on black). Then the image is scaled into bounds: huge
images are shrunk (bounded time and memory), tiny ones enlarged so their text reaches a
readable height. ``blank_reason`` spots images that cannot hold text (too small, or one flat colour).

What was measured (``benchmarks/bench_ocr.py --preprocessing``, in benchmarks/RESULTS.md): the
character error on degraded screens (JPEG q20-25, half size) was 3.5-5.3% without enlarging small
images and 0.65% with it, so upscaling is on. Grayscale and CLAHE changed nothing on clean screens
and pulled in opposite directions on degraded ones (ABCD 0.66% -> 0.47% / 0.61%, rendered pages
0.65% -> 1.24% / 1.36%; CLAHE also lost two clean ABCD lines), so both are off by default
(``grayscale=True`` / ``contrast=True`` turn them on, e.g. for washed-out photos of a screen).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from assist.inference.errors import BadInput

MAX_FILE_BYTES = 64 * 1024 * 1024  # larger files are refused before decoding
MAX_PIXELS = 200_000_000  # decoded images above this are refused (a 14000x14000 screen is not one)
MAX_SIDE = 2560  # huge images are shrunk so their longest side is at most this (text stays >= ~10 px on 4K)
UPSCALE_BELOW = 800  # images whose longest side is below this are enlarged ...
UPSCALE_MAX_FACTOR = 3.0  # ... by at most this factor, up to UPSCALE_BELOW
MIN_SIDE = 8  # an image thinner than this cannot hold a readable line of text
BLANK_STD = 2.0  # grey-level standard deviation below this: one flat colour, no text

ImageSource = bytes | bytearray | memoryview | str | Path | np.ndarray


@dataclass(frozen=True)
class PreparedImage:
    """The image the OCR model sees, and how to map its coordinates back to the original."""

    image: np.ndarray  # uint8 BGR, HxWx3
    scale: float  # prepared = original * scale
    original_size: tuple[int, int]  # (width, height) of the decoded input
    blank_reason: str = ""  # non-empty when the image cannot hold text (then OCR is skipped)

    @property
    def is_blank(self) -> bool:
        return bool(self.blank_reason)


def decode(source: ImageSource) -> np.ndarray:
    """Decode bytes / a path / an array into an image array as stored (any depth or channels).

    Raises BadInput with a sentence a person understands when the input is missing or unreadable.
    """
    if isinstance(source, np.ndarray):
        if source.size == 0 or source.ndim not in (2, 3):
            raise BadInput(f"The image array has an unusable shape {source.shape}.")
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise BadInput(f"The image file {path} does not exist.")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadInput(f"The image file {path.name} is too large ({size // 2**20} MB; the limit is "
                           f"{MAX_FILE_BYTES // 2**20} MB).")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInput(f"The image file {path} could not be read: {exc.strerror or exc}.") from exc
        name = path.name
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise BadInput(f"The image is too large ({len(data) // 2**20} MB).")
        name = "The image"
    else:
        raise BadInput(f"Cannot read an image from {type(source).__name__}.")
    if not data:
        raise BadInput(f"{name} is empty (0 bytes).")
    buffer = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # e.g. over OpenCV's own pixel limit
        raise BadInput(f"{name} could not be decoded: {exc.msg if hasattr(exc, 'msg') else exc}".strip()) from exc
    if image is None or image.size == 0:
        raise BadInput(f"{name} is not a readable image (corrupt, truncated or an unsupported format).")
    return image


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any depth and channel layout -> uint8 BGR. Alpha is composited over white."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    image = _to_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 3:
        return np.ascontiguousarray(image)
    if channels == 2:  # grey + alpha
        grey, alpha = image[:, :, 0], image[:, :, 1]
        return cv2.cvtColor(_over_white(grey[:, :, None], alpha)[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return _over_white(image[:, :, :3], image[:, :, 3])
    raise BadInput(f"The image has {channels} channels; expected 1 to 4.")


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)  # 0..65535 -> 0..255 (same as /257, rounded down)
    if np.issubdtype(image.dtype, np.floating):
        finite = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(finite.max()) if finite.size else 0.0
        scale = 255.0 if peak <= 1.0 else 1.0  # [0, 1] floats (OpenCV's convention) or 0..255
        return np.clip(finite * scale, 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        shifted = image.astype(np.float64) - info.min
        return np.clip(shifted * (255.0 / (info.max - info.min)), 0, 255).astype(np.uint8)
    raise BadInput(f"Unsupported image pixel type {image.dtype}.")


def _over_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)[:, :, None] / 255.0
    blended = color.astype(np.float32) * a + 255.0 * (1.0 - a)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def blank_reason(image: np.ndarray) -> str:
    """Why ``image`` (uint8 BGR) cannot contain text, or "" if it might."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        return f"no text found (the image is only {w}x{h} pixels)"
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (min(w, 512), min(h, 512)), interpolation=cv2.INTER_AREA)
    if float(small.std()) < BLANK_STD and int(grey.max()) - int(grey.min()) < 32:
        return "no text found (the image is blank)"
    return ""


def target_scale(width: int, height: int, max_side: int = MAX_SIDE, upscale_below: int = UPSCALE_BELOW) -> float:
    """Scale factor that brings the longest side within [upscale_below, max_side] (where it can)."""
    longest = max(width, height)
    if longest > max_side:
        return max_side / longest
    if 0 < longest < upscale_below:
        return min(UPSCALE_MAX_FACTOR, upscale_below / longest)
    return 1.0


def enhance_contrast(image: np.ndarray, clip_limit: float = 2.0) -> np.ndarray:
    """CLAHE on the lightness channel (keeps colour); helps washed-out or low-contrast captures."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(8, 8))
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def prepare(source: ImageSource, *, max_side: int = MAX_SIDE, upscale_below: int = UPSCALE_BELOW,
            grayscale: bool = False, contrast: bool = False) -> PreparedImage:
    """Decode, normalise and rescale ``source`` for OCR. 3-channel arrays are taken as BGR.

    Huge images are shrunk before any other step, so a 10000x10000 RGBA or 16-bit image never
    exists as a float copy in memory.
    """
    raw = decode(source)
    h, w = raw.shape[:2]
    if h * w > MAX_PIXELS:
        raise BadInput(f"The image is too large to analyse ({w}x{h} pixels).")
    scale = target_scale(w, h, max_side, upscale_below)
    if min(h, w) < MIN_SIDE:
        scale = 1.0  # nothing to enlarge: it is reported as too small below
    if scale < 1.0:
        raw = _resize(raw, w, h, scale, cv2.INTER_AREA)
    image = to_bgr8(raw)
    reason = blank_reason(image) if min(h, w) >= MIN_SIDE else f"no text found (the image is only {w}x{h} pixels)"
    if reason:
        return PreparedImage(image, image.shape[1] / w, (w, h), reason)
    if scale > 1.0:
        image = _resize(image, w, h, scale, cv2.INTER_CUBIC)
    if grayscale:
        image = to_grayscale(image)
    if contrast:
        image = enhance_contrast(image)
    return PreparedImage(np.ascontiguousarray(image), image.shape[1] / w, (w, h))


def _resize(image: np.ndarray, w: int, h: int, scale: float, interpolation: int) -> np.ndarray:
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=interpolation)
    if image.ndim == 3 and resized.ndim == 2:  # OpenCV drops a trailing channel axis of size 1
        resized = resized[:, :, None]
    return resized
