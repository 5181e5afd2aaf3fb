"""Screenshots: grab the screen (mss), load images the agent pastes or drops, store them privately.

Every image becomes a ``CapturedImage`` whose ``pixels`` are RGB uint8 (H x W x 3); note that
OpenCV and ``ScreenReader.read`` take 3-channel arrays as BGR. Huge desktops (three 8K monitors
are 23040 x 4320, 400 MB as BGRA) are grabbed in horizontal bands and shrunk band by band, so the
full-size picture never exists in memory; ``scale`` records the factor (stored = original * scale).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from assist.capture.errors import ScreenCaptureError
from assist.paths import private_folder

MAX_CAPTURE_SIDE = 3840  # captures and loaded images are shrunk so their longest side is at most this
BAND_BYTES = 64 * 1024 * 1024  # a larger grab is taken in bands of at most this many BGRA bytes
MAX_FILE_BYTES = 64 * 1024 * 1024  # larger image files are refused before decoding
MAX_PIXELS = 120_000_000  # decoded images above this are refused (a 3 x 8K desktop is 99.5 Mpx)
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_WIDE_GREY_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}


class Grabber(Protocol):
    """What ``capture_screen`` needs from a screen grabber (``mss.MSS`` or a test double)."""

    @property
    def monitors(self) -> list[dict[str, int]]: ...  # [whole desktop, monitor 1, ...]: left/top/width/height

    def grab(self, box: dict[str, int], /) -> Any: ...  # an mss ScreenShot, or an HxWx4 BGRA / HxWx3 BGR array


@dataclass(frozen=True, eq=False)
class CapturedImage:
    """An RGB uint8 picture of the screen or of an image file, with where it came from."""

    pixels: np.ndarray  # H x W x 3, RGB, uint8
    source: str = "screen"  # "screen", "file" or "clipboard"
    geometry: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height before scaling
    scale: float = 1.0  # pixels = original * scale
    monitor: int | None = None  # 0 = all monitors, 1.. = one monitor; None for files
    name: str = ""  # file name, for files
    captured_at: float = field(default_factory=time.time)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class StoredScreenshot:
    """A screenshot written to the session folder."""

    path: Path
    width: int
    height: int
    bytes: int
    sha256: str
    format: str  # "png" or "jpg"


# --- the screen -------------------------------------------------------------------------------------
def capture_screen(region: tuple[int, int, int, int] | None = None, monitor: int = 0,
                   grabber: Grabber | None = None, max_side: int = MAX_CAPTURE_SIDE) -> CapturedImage:
    """Grab monitor ``monitor`` (0: all of them), or ``region`` = (left, top, width, height) relative to it."""
    own = grabber is None
    active: Any = _open_mss() if grabber is None else grabber
    try:
        monitors = list(active.monitors)
        if not 0 <= monitor < len(monitors):
            raise ScreenCaptureError(f"There is no monitor {monitor}: this computer has {len(monitors) - 1}.")
        area = {key: int(monitors[monitor][key]) for key in ("left", "top", "width", "height")}
        box = area if region is None else _clip(region, area, monitor)
        pixels, scale = _grab_scaled(active, box, max_side)
    except ScreenCaptureError:
        raise
    except Exception as exc:  # mss raises ScreenShotError (X errors, lost display) and ctypes errors
        raise ScreenCaptureError(f"The screen could not be captured: {exc}") from exc
    finally:
        if own:
            active.close()
    geometry = (box["left"], box["top"], box["width"], box["height"])
    return CapturedImage(pixels, "screen", geometry, scale, monitor)


def _open_mss() -> Any:
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        why = ("this is a Wayland session without X11 support" if os.environ.get("WAYLAND_DISPLAY")
               else "no display is available (DISPLAY is not set: a server, a service or an SSH session?)")
        raise ScreenCaptureError(f"No screen to capture: {why}.")
    try:
        import mss
    except ImportError as exc:
        raise ScreenCaptureError("Screen capture is not available: the mss package is not installed.") from exc
    factory = getattr(mss, "MSS", None) or mss.mss  # mss 10 renamed the factory
    try:
        return factory()
    except Exception as exc:  # ScreenShotError: cannot connect to the display, no X11 library
        raise ScreenCaptureError(f"No screen to capture: {exc}") from exc


def _clip(region: tuple[int, int, int, int], area: dict[str, int], monitor: int) -> dict[str, int]:
    x, y, width, height = (int(v) for v in region)
    left, top = max(0, x), max(0, y)
    right, bottom = min(area["width"], x + width), min(area["height"], y + height)
    if right <= left or bottom <= top:
        raise ScreenCaptureError(f"The region {region} is outside monitor {monitor} "
                                 f"({area['width']}x{area['height']}).")
    return {"left": area["left"] + left, "top": area["top"] + top, "width": right - left, "height": bottom - top}


def _grab_scaled(grabber: Grabber, box: dict[str, int], max_side: int) -> tuple[np.ndarray, float]:
    """Grab ``box`` in bands of at most BAND_BYTES, shrinking each band so the result fits ``max_side``."""
    width, height = box["width"], box["height"]
    scale = min(1.0, max_side / max(width, height))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    band_rows = max(1, BAND_BYTES // (width * 4), int(np.ceil(1 / scale)))
    out = np.empty((out_h, out_w, 3), np.uint8)
    for y0 in range(0, height, band_rows):
        y1 = min(height, y0 + band_rows)
        o0, o1 = round(y0 * scale), out_h if y1 == height else round(y1 * scale)
        if o1 <= o0:
            continue
        shot = grabber.grab({"left": box["left"], "top": box["top"] + y0, "width": width, "height": y1 - y0})
        band = _as_bgr_array(shot)
        if band.shape[:2] != (o1 - o0, out_w):  # shrinking, or a HiDPI grabber returning 2x pixels
            band = cv2.resize(band, (out_w, o1 - o0), interpolation=cv2.INTER_AREA)
        out[o0:o1] = cv2.cvtColor(band, cv2.COLOR_BGRA2RGB if band.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        del shot, band
    return out, out_w / width


def _as_bgr_array(shot: Any) -> np.ndarray:
    array = np.asarray(shot)  # mss ScreenShot has __array_interface__: a BGRA view, no copy
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4) or array.size == 0:
        raise ScreenCaptureError(f"The screen grabber returned an unusable image ({array.dtype}, {array.shape}).")
    return array


# --- image files and clipboard bytes ----------------------------------------------------------------
def load_image_file(path: Path | str, max_side: int = MAX_CAPTURE_SIDE) -> CapturedImage:
    """Load an image the agent dropped or picked (PNG, JPEG, BMP, GIF, TIFF, WebP ...) as RGB."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ScreenCaptureError(f"{path} is not an image file (it is a folder or a device).")
        if size > MAX_FILE_BYTES:
            raise ScreenCaptureError(f"The image file {path.name} is too large ({size // 2**20} MB; "
                                     f"the limit is {MAX_FILE_BYTES // 2**20} MB).")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ScreenCaptureError(f"The image file {path} does not exist.") from exc
    except OSError as exc:
        raise ScreenCaptureError(f"The image file {path.name} could not be read: {exc.strerror or exc}.") from exc
    return _decode(data, path.name, "file", max_side)


def image_from_bytes(data: bytes | bytearray | memoryview, max_side: int = MAX_CAPTURE_SIDE,
                     name: str = "The pasted image") -> CapturedImage:
    """Decode encoded image bytes (e.g. PNG from the clipboard) as RGB."""
    if len(data) > MAX_FILE_BYTES:
        raise ScreenCaptureError(f"{name} is too large ({len(data) // 2**20} MB).")
    return _decode(bytes(data), name, "clipboard", max_side)


def _decode(data: bytes, name: str, source: str, max_side: int) -> CapturedImage:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ScreenCaptureError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is checked below
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ScreenCaptureError(f"{name} is too large to use ({width}x{height} pixels).")
            if max(width, height) > max_side:  # JPEG can decode at 1/2, 1/4, 1/8 size directly
                image.draft(None, (max(1, width * max_side // max(width, height)),
                                   max(1, height * max_side // max(width, height))))
            drafted = image.size
            image.load()
            image = _upright(image, ImageOps)
            pixels = _to_rgb(image)
    except ScreenCaptureError:
        raise
    except Image.DecompressionBombError as exc:
        raise ScreenCaptureError(f"{name} is too large to use ({exc}).") from exc
    except UnidentifiedImageError as exc:
        raise ScreenCaptureError(f"{name} is not an image Assist can read (not PNG, JPEG, BMP, GIF, TIFF "
                                 "or WebP, or the file is damaged).") from exc
    except MemoryError as exc:
        raise ScreenCaptureError(f"{name} is too large to open.") from exc
    except Exception as exc:  # truncated or corrupt data: OSError, SyntaxError, ValueError, EOFError ...
        raise ScreenCaptureError(f"{name} is damaged and could not be read ({exc}).") from exc
    turned = image.size != drafted and image.size == drafted[::-1]
    original = (height, width) if turned else (width, height)
    pixels, _ = _fit(pixels, max_side)
    return CapturedImage(pixels, source, (0, 0, *original), round(pixels.shape[1] / original[0], 6), None, name)


def _upright(image: Any, image_ops: Any) -> Any:
    """Apply the EXIF orientation (phone photos of a screen); a broken EXIF block is ignored."""
    try:
        return image_ops.exif_transpose(image)
    except Exception:
        return image


def _to_rgb(image: Any) -> np.ndarray:
    """Any Pillow mode -> RGB uint8; 16/32-bit grey is scaled down, alpha is composited over white."""
    mode = image.mode
    if mode in _WIDE_GREY_MODES or mode == "F":
        grey = np.asarray(image)
        if mode == "F":
            peak = float(np.nanmax(grey)) if grey.size else 0.0
            grey = np.nan_to_num(grey) * (255.0 if peak <= 1.0 else 1.0)
        elif int(grey.max(initial=0)) > 255:  # 16-bit data
            grey = np.clip(grey, 0, 65535) / 257.0
        return cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
        return np.clip(rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(image if mode == "RGB" else image.convert("RGB")))


def _fit(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, bool]:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels, False
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), True


def make_thumbnail(image: CapturedImage | np.ndarray, max_side: int = 160) -> np.ndarray:
    """A small RGB copy whose longest side is at most ``max_side`` (never enlarged)."""
    pixels = _rgb_pixels(image)
    return np.ascontiguousarray(_fit(pixels, max_side)[0])


# --- storing ----------------------------------------------------------------------------------------
def store_screenshot(image: CapturedImage | np.ndarray, session_dir: Path, max_bytes: int = 2_000_000,
                     max_side: int = 2560) -> StoredScreenshot:
    """Write a PNG (JPEG q90 when the PNG is over ``max_bytes``; smaller still if needed) readable by the owner only."""
    pixels, _ = _fit(_rgb_pixels(image), max_side)
    encoded, fmt, (width, height) = _encode_within(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), max_bytes)
    digest = hashlib.sha256(encoded).hexdigest()
    taken = image.captured_at if isinstance(image, CapturedImage) else time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(taken)) + f".{int(taken * 1000) % 1000:03d}Z"
    path = _write_private(Path(session_dir), f"{stamp}-{digest[:12]}.{fmt}", encoded)
    return StoredScreenshot(path, width, height, len(encoded), digest, fmt)


def _rgb_pixels(image: CapturedImage | np.ndarray) -> np.ndarray:
    pixels = image.pixels if isinstance(image, CapturedImage) else image
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3 \
            or pixels.size == 0:
        shape = getattr(pixels, "shape", None)
        raise ScreenCaptureError(f"Not an RGB picture (expected H x W x 3 uint8, got {shape}).")
    return pixels


def _encode_within(bgr: np.ndarray, max_bytes: int) -> tuple[bytes, str, tuple[int, int]]:
    png = _encode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if len(png) <= max_bytes:
        return png, "png", (bgr.shape[1], bgr.shape[0])
    for _ in range(12):
        jpeg = _encode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if len(jpeg) <= max_bytes:
            return jpeg, "jpg", (bgr.shape[1], bgr.shape[0])
        if max(bgr.shape[:2]) <= 16:
            break
        factor = min(0.9, max(0.3, 0.95 * (max_bytes / len(jpeg)) ** 0.5))
        size = (max(1, int(bgr.shape[1] * factor)), max(1, int(bgr.shape[0] * factor)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    raise ScreenCaptureError(f"The screenshot cannot be made smaller than {max_bytes:,} bytes.")


def _encode(extension: str, bgr: np.ndarray, params: list[int]) -> bytes:
    ok, buffer = cv2.imencode(extension, bgr, params)
    if not ok:
        raise ScreenCaptureError(f"The screenshot could not be encoded as {extension[1:].upper()}.")
    return buffer.tobytes()


def _write_private(folder: Path, name: str, data: bytes) -> Path:
    """Write atomically (temporary file, then rename) into ``folder`` (created 0o700), file mode 0o600."""
    path, partial = folder / name, folder / f".{name}.part"
    try:
        if not folder.is_dir():  # sessions/<id>/, both owner-only
            private_folder(folder.parent)
            private_folder(folder)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        raise ScreenCaptureError(_write_problem(exc, folder)) from exc
    return path


def _write_problem(exc: OSError, folder: Path) -> str:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"The disk is full: the screenshot could not be saved in {folder}."
    if exc.errno == errno.EROFS:
        return f"{folder} is on a read-only disk: the screenshot could not be saved."
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Assist is not allowed to write in {folder}: the screenshot was not saved."
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{folder} is a file, not a folder: the screenshot was not saved."
    return f"The screenshot could not be saved in {folder}: {exc.strerror or exc}."
