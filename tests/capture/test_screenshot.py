"""Screenshots: a real X server (Xvfb) grabbed through mss and read by the OCR model, a fake 3 x 8K desktop,
awkward image files, and storing under a size cap on real (read-only, full) disks."""

from __future__ import annotations

import hashlib
import io
import os
import re
import select
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from assist.capture.errors import CaptureError, ScreenCaptureError
from assist.capture.screenshot import (
    BAND_BYTES,
    MAX_CAPTURE_SIDE,
    CapturedImage,
    capture_screen,
    image_from_bytes,
    load_image_file,
    make_thumbnail,
    store_screenshot,
)

SCREEN_TEXT = "ORDER 48213 DELAYED"
RED_BAND_HEIGHT = 100

WINDOW_SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

    app = QApplication(sys.argv)
    window = QWidget()
    window.setWindowFlag(Qt.WindowType.FramelessWindowHint)
    window.setStyleSheet("background: white;")
    layout = QVBoxLayout(window)
    layout.setContentsMargins(0, 0, 0, 0)
    band = QLabel()
    band.setFixedHeight(int(sys.argv[2]))
    band.setStyleSheet("background: #ff0000;")
    text = QLabel(sys.argv[1])
    text.setStyleSheet("color: black; font-size: 48pt;")
    text.setAlignment(Qt.AlignmentFlag.AlignCenter)
    layout.addWidget(band)
    layout.addWidget(text)
    window.setGeometry(0, 0, 1280, 800)
    window.show()

    def check():
        handle = window.windowHandle()
        if handle is not None and handle.isExposed():
            QTimer.singleShot(300, lambda: print("ready", flush=True))
        else:
            QTimer.singleShot(50, check)

    QTimer.singleShot(50, check)
    app.exec()
""")


# --- a real screen: Xvfb, a Qt window in a subprocess, mss, OCR -------------------------------------
@pytest.fixture
def xvfb_display(monkeypatch):
    """A private Xvfb server (1280x800x24) on a free display number; DISPLAY points at it for the test."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("the Xvfb binary is not installed (Debian/Ubuntu: apt-get install xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen([binary, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as numbers:  # Xvfb writes its display number once it accepts clients
            number = numbers.readline().strip().decode()
        if not number:
            raise AssertionError(f"Xvfb did not start: {server.communicate(timeout=5)[1].decode(errors='replace')}")
        monkeypatch.setenv("DISPLAY", f":{number}")
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


@contextmanager
def window_showing(display: str, text: str):
    """Run a Qt window (xcb platform) showing ``text`` on ``display`` until the block ends."""
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    window = subprocess.Popen([sys.executable, "-c", WINDOW_SCRIPT, text, str(RED_BAND_HEIGHT)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        shown, _, _ = select.select([window.stdout], [], [], 60)  # ready once the window is exposed and painted
        line = window.stdout.readline() if shown and window.stdout else ""
        if line.strip() != "ready":
            window.kill()
            _, errors = window.communicate(timeout=10)
            raise AssertionError(f"the Qt window did not show on {display} (xcb needs libxcb-icccm4, "
                                 f"libxcb-keysyms1, libxcb-cursor0 ...):\n{errors[-3000:]}")
        yield
    finally:
        if window.poll() is None:
            window.terminate()
            try:
                window.wait(timeout=5)
            except subprocess.TimeoutExpired:
                window.kill()
                window.wait()
        for stream in (window.stdout, window.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def screen_reader():
    from assist.inference.screen import ScreenReader

    return ScreenReader()


@pytest.mark.slow
def test_text_on_a_real_screen_is_captured_and_read(xvfb_display, screen_reader):
    with window_showing(xvfb_display, SCREEN_TEXT):
        shot = capture_screen()
        band = capture_screen(region=(600, 20, 80, 40), monitor=1)
    assert shot.source == "screen" and shot.monitor == 0 and shot.scale == 1.0
    assert shot.pixels.shape == (800, 1280, 3) and shot.pixels.dtype == np.uint8
    assert shot.geometry == (0, 0, 1280, 800) and shot.captured_at > 0
    assert tuple(shot.pixels[RED_BAND_HEIGHT // 2, 640]) == (255, 0, 0)  # RGB order, not mss's BGRA
    assert tuple(shot.pixels[700, 20]) == (255, 255, 255)
    assert band.pixels.shape == (40, 80, 3) and band.geometry == (600, 20, 80, 40)
    assert (band.pixels == (255, 0, 0)).all()
    analysis = screen_reader.read(cv2.cvtColor(shot.pixels, cv2.COLOR_RGB2BGR))  # the reader takes BGR arrays
    assert SCREEN_TEXT.replace(" ", "") in analysis.text.replace(" ", "").upper(), analysis.text
    assert any(e.kind == "status" and e.value == "Delayed" for e in analysis.entities), analysis.entities


def test_no_display_is_a_plain_screen_capture_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("DISPLAY only decides this on Linux")
    with pytest.raises(ScreenCaptureError, match=r"^No screen to capture: no display is available"):
        capture_screen()


def test_a_display_that_does_not_answer_is_a_screen_capture_error(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 only")
    monkeypatch.setenv("DISPLAY", ":4242")
    with pytest.raises(ScreenCaptureError, match="^No screen to capture: ") as caught:
        capture_screen()
    assert isinstance(caught.value, CaptureError) and "Traceback" not in str(caught.value)


# --- a fake 3 x 8K desktop --------------------------------------------------------------------------
MONITOR_BGRA = [(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)]  # blue, green, red in mss's BGRA


class EightKDesktop:
    """Three 7680x4320 monitors side by side; each grab returns a BGRA array like mss does."""

    def __init__(self) -> None:
        self.monitors = [{"left": 0, "top": 0, "width": 3 * 7680, "height": 4320}] + [
            {"left": 7680 * i, "top": 0, "width": 7680, "height": 4320} for i in range(3)]
        self.grabs: list[dict[str, int]] = []

    def grab(self, box: dict[str, int]) -> np.ndarray:
        self.grabs.append(dict(box))
        pixels = np.zeros((box["height"], box["width"], 4), np.uint8)
        for index, colour in enumerate(MONITOR_BGRA):
            start = max(0, 7680 * index - box["left"])
            end = min(box["width"], 7680 * (index + 1) - box["left"])
            if end > start:
                pixels[:, start:end] = colour
        return pixels


def test_a_three_monitor_8k_desktop_is_shrunk_band_by_band():
    desktop = EightKDesktop()
    tracemalloc.start()
    try:
        shot = capture_screen(grabber=desktop)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert shot.pixels.shape == (720, MAX_CAPTURE_SIDE, 3) and shot.scale == pytest.approx(1 / 6)
    assert shot.geometry == (0, 0, 23040, 4320)
    assert len(desktop.grabs) > 1 and all(g["width"] * g["height"] * 4 <= BAND_BYTES for g in desktop.grabs)
    assert sum(g["height"] for g in desktop.grabs) == 4320
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MB (the full BGRA desktop alone is 380 MB)"
    for third, rgb in zip(range(3), [(0, 0, 255), (0, 255, 0), (255, 0, 0)]):
        x = 640 + third * 1280
        assert tuple(shot.pixels[0, x]) == rgb and tuple(shot.pixels[-1, x]) == rgb


def test_one_monitor_and_a_region_of_it():
    desktop = EightKDesktop()
    middle = capture_screen(monitor=2, grabber=desktop)
    assert middle.geometry == (7680, 0, 7680, 4320) and middle.pixels.shape == (2160, 3840, 3)
    assert (middle.pixels == (0, 255, 0)).all()
    region = capture_screen(region=(100, 50, 400, 300), monitor=3, grabber=desktop)
    assert region.geometry == (15460, 50, 400, 300) and region.scale == 1.0
    assert region.pixels.shape == (300, 400, 3) and (region.pixels == (255, 0, 0)).all()
    clipped = capture_screen(region=(7000, 4000, 5000, 5000), monitor=1, grabber=desktop)
    assert clipped.geometry == (7000, 4000, 680, 320)


def test_bad_monitor_region_or_grabber_output_are_screen_capture_errors():
    desktop = EightKDesktop()
    with pytest.raises(ScreenCaptureError, match="no monitor 4: this computer has 3"):
        capture_screen(monitor=4, grabber=desktop)
    with pytest.raises(ScreenCaptureError, match="outside monitor 1"):
        capture_screen(region=(8000, 0, 100, 100), monitor=1, grabber=desktop)

    class Broken(EightKDesktop):
        def grab(self, box):
            return np.zeros((4, 4), np.float32)

    with pytest.raises(ScreenCaptureError, match="unusable image"):
        capture_screen(monitor=1, grabber=Broken())

    class Failing(EightKDesktop):
        def grab(self, box):
            raise RuntimeError("XGetImage() failed")

    with pytest.raises(ScreenCaptureError, match="XGetImage"):
        capture_screen(monitor=1, grabber=Failing())


def test_a_hidpi_grabber_returning_twice_the_pixels_is_scaled_to_the_logical_size():
    class Retina(EightKDesktop):
        def __init__(self):
            super().__init__()
            self.monitors = [{"left": 0, "top": 0, "width": 1440, "height": 900}] * 2

        def grab(self, box):
            return np.full((box["height"] * 2, box["width"] * 2, 3), 200, np.uint8)  # BGR

    shot = capture_screen(grabber=Retina())
    assert shot.pixels.shape == (900, 1440, 3) and (shot.pixels == 200).all()


# --- image files the agent drops or pastes ----------------------------------------------------------
def png_bytes(array: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    return encoded.tobytes()


def pil_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (b"", r"^dropped.png is empty \(0 bytes\)"),
    (b"PK\x03\x04" + bytes(range(256)) * 8, "is not an image Assist can read"),
    (b"Customer: this is a text file\n", "is not an image Assist can read"),
])
def test_unreadable_files_are_screen_capture_errors(tmp_path, data, message):
    path = tmp_path / "dropped.png"
    path.write_bytes(data)
    with pytest.raises(ScreenCaptureError, match=message):
        load_image_file(path)


def test_a_corrupt_png_is_a_screen_capture_error(tmp_path):
    good = png_bytes(np.random.default_rng(1).integers(0, 255, (200, 200, 3), np.uint8))
    for name, data in [("truncated.png", good[: len(good) // 2]),
                       ("scrambled.png", good[:100] + bytes(reversed(good[100:])))]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ScreenCaptureError, match=rf"^{name} is damaged and could not be read"):
            load_image_file(tmp_path / name)


def test_missing_file_folder_and_oversized_header(tmp_path):
    with pytest.raises(ScreenCaptureError, match="does not exist"):
        load_image_file(tmp_path / "nope.png")
    with pytest.raises(ScreenCaptureError, match="not an image file"):
        load_image_file(tmp_path)
    for side in (12_000, 40_000):  # over our limit; over Pillow's own (decompression bomb) limit
        with pytest.raises(ScreenCaptureError, match="too large to use"):
            image_from_bytes(png_header_only(side, side))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds (almost) no pixels: nothing should try to decode it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    path.write_bytes(pil_bytes(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95))
    loaded = load_image_file(path)
    assert loaded.pixels.shape == (48, 64, 3) and loaded.pixels.dtype == np.uint8 and loaded.source == "file"
    assert np.abs(loaded.pixels[24, 32].astype(int) - (255, 0, 0)).max() < 8 and loaded.name == "cmyk.jpg"


def test_16_bit_grey_and_colour_pngs_become_8_bit_rgb(tmp_path):
    grey = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    (tmp_path / "grey16.png").write_bytes(png_bytes(grey))
    loaded = load_image_file(tmp_path / "grey16.png")
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (16, 256, 3)
    assert loaded.pixels[0, 0].tolist() == [0, 0, 0] and loaded.pixels[0, -1].tolist() == [255, 255, 255]
    assert abs(int(loaded.pixels[0, 128, 0]) - 128) <= 2
    colour = np.zeros((8, 8, 3), np.uint16)
    colour[:] = (0, 32768, 65535)  # BGR for OpenCV: red full, green half
    (tmp_path / "rgb16.png").write_bytes(png_bytes(colour))
    pixel = load_image_file(tmp_path / "rgb16.png").pixels[4, 4].astype(int)
    assert np.abs(pixel - (255, 128, 0)).max() <= 1


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((10, 30, 4), np.uint8)
    rgba[:, :10] = (0, 0, 0, 0)  # transparent black: must not show as black
    rgba[:, 10:20] = (0, 0, 255, 255)  # opaque blue
    rgba[:, 20:] = (0, 0, 0, 128)  # half-transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    pixels = load_image_file(tmp_path / "alpha.png").pixels
    assert pixels[5, 5].tolist() == [255, 255, 255] and pixels[5, 15].tolist() == [0, 0, 255]
    assert all(126 <= v <= 128 for v in pixels[5, 25])
    grey_alpha = Image.fromarray(np.dstack([np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)]), "LA")
    assert (image_from_bytes(pil_bytes(grey_alpha, "PNG")).pixels == 255).all()
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0] * 256)
    assert (image_from_bytes(pil_bytes(palette, "GIF", transparency=0)).pixels == 255).all()


def test_grey_bilevel_and_rotated_photos(tmp_path):
    assert (image_from_bytes(pil_bytes(Image.new("L", (5, 3), 77), "PNG")).pixels == 77).all()
    assert (image_from_bytes(pil_bytes(Image.new("1", (5, 3), 1), "BMP")).pixels == 255).all()
    photo = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    upright = image_from_bytes(pil_bytes(photo, "JPEG", exif=exif.tobytes()), name="phone.jpg")
    assert upright.pixels.shape == (40, 20, 3) and upright.geometry == (0, 0, 20, 40)
    assert upright.source == "clipboard" and upright.name == "phone.jpg"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_huge_images_are_shrunk_and_the_scale_recorded(fmt):
    wide = Image.new("RGB", (9000, 1500), (250, 250, 250))
    loaded = image_from_bytes(pil_bytes(wide, fmt))
    assert loaded.width == MAX_CAPTURE_SIDE and loaded.height == 640
    assert loaded.geometry == (0, 0, 9000, 1500) and loaded.scale == pytest.approx(MAX_CAPTURE_SIDE / 9000, abs=1e-3)


# --- storing ----------------------------------------------------------------------------------------
def ui_picture(width: int = 1280, height: int = 800) -> np.ndarray:
    pixels = np.full((height, width, 3), 245, np.uint8)
    cv2.putText(pixels, SCREEN_TEXT, (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 3)
    pixels[:80] = (30, 90, 200)
    return pixels


def test_store_writes_a_private_png_named_by_time_and_hash(tmp_path):
    session = tmp_path / "sessions" / "abc"
    image = CapturedImage(ui_picture(), captured_at=1710498660.25)
    stored = store_screenshot(image, session)
    data = stored.path.read_bytes()
    assert stored.format == "png" and stored.path.suffix == ".png" and stored.bytes == len(data) <= 2_000_000
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and (stored.width, stored.height) == (1280, 800)
    assert re.fullmatch(rf"20240315T103100\.250Z-{stored.sha256[:12]}\.png", stored.path.name)
    assert np.array_equal(load_image_file(stored.path).pixels, image.pixels)  # lossless
    if os.name == "posix":
        assert stat.S_IMODE(session.stat().st_mode) == 0o700 and stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    assert [p.name for p in session.iterdir()] == [stored.path.name]  # no temporary file left


def test_store_falls_back_to_jpeg_then_shrinks_to_meet_the_cap(tmp_path):
    noise = np.random.default_rng(7).integers(0, 256, (1200, 1600, 3), np.uint8)  # PNG ~5.8 MB
    jpeg = store_screenshot(noise, tmp_path)
    assert jpeg.format == "jpg" and jpeg.bytes <= 2_000_000 and (jpeg.width, jpeg.height) == (1600, 1200)
    small = store_screenshot(noise, tmp_path, max_bytes=150_000)
    assert small.format == "jpg" and small.bytes <= 150_000 and small.width < 1600
    assert small.path.stat().st_size == small.bytes and small.width / small.height == pytest.approx(4 / 3, abs=0.02)
    wide = store_screenshot(ui_picture(6000, 1000), tmp_path)
    assert (wide.width, wide.height) == (2560, 427) and wide.format == "png"


def test_store_refuses_what_is_not_an_rgb_picture(tmp_path):
    with pytest.raises(ScreenCaptureError, match="Not an RGB picture"):
        store_screenshot(np.zeros((10, 10, 4), np.uint8), tmp_path)


@contextmanager
def mounted_tmpfs(path: Path, options: str):
    """A real small or read-only disk (needs root and mount); skips where that is not possible."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_read_only_folder_is_a_clear_error(tmp_path):
    target = tmp_path / "readonly"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        target.mkdir()
        target.chmod(0o500)  # not writable for its owner
        context = None
    else:
        context = mounted_tmpfs(target, "ro,size=1m")
        context.__enter__()
    try:
        with pytest.raises(ScreenCaptureError, match="read-only disk|not allowed to write") as caught:
            store_screenshot(ui_picture(), target / "session")
        assert str(target) in str(caught.value)
        with pytest.raises(ScreenCaptureError, match="read-only disk|not allowed to write"):
            store_screenshot(ui_picture(), target)
    finally:
        if context is not None:
            context.__exit__(None, None, None)
        else:
            target.chmod(0o700)


def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_file(tmp_path):
    with mounted_tmpfs(tmp_path / "tiny", "size=64k") as disk:
        noise = np.random.default_rng(3).integers(0, 256, (400, 400, 3), np.uint8)  # ~480 KB PNG
        with pytest.raises(ScreenCaptureError, match="^The disk is full: the screenshot could not be saved"):
            store_screenshot(noise, disk / "session")
        assert list((disk / "session").iterdir()) == []


def test_a_file_where_the_folder_should_be(tmp_path):
    (tmp_path / "session").write_text("not a folder")
    with pytest.raises(ScreenCaptureError, match="is a file, not a folder"):
        store_screenshot(ui_picture(), tmp_path / "session")


def test_thumbnail_keeps_the_aspect_ratio_and_never_enlarges():
    thumb = make_thumbnail(CapturedImage(ui_picture()))
    assert thumb.shape == (100, 160, 3) and thumb.dtype == np.uint8
    assert tuple(thumb[5, 80]) == (30, 90, 200)  # still RGB
    tiny = np.zeros((20, 30, 3), np.uint8)
    assert make_thumbnail(tiny).shape == (20, 30, 3)
    assert make_thumbnail(ui_picture(300, 1200), max_side=64).shape == (64, 16, 3)
