"""Screenshot encoder: entities (pure), reading order, preprocessing, and real OCR on real and rendered screens."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from assist.inference.errors import BadInput
from assist.inference.screen.entities import extract_entities, parse_number
from assist.inference.screen.layout import reading_order
from assist.inference.screen.preprocess import MAX_SIDE, blank_reason, decode, prepare, target_scale, to_bgr8
from assist.inference.screen.synthetic import OrderPage, render_lines, render_order_page
from support import REPO, data_dir

ABCD_IMAGES = data_dir() / "abcd" / "images"
needs_abcd = pytest.mark.skipif(not ABCD_IMAGES.is_dir(), reason=f"ABCD screenshots not found at {ABCD_IMAGES}")


def values(entities, kind: str) -> list[str]:
    return [e.value for e in entities if e.kind == kind]


# --- entities (pure Python) ---------------------------------------------------------------------
@pytest.mark.parametrize(("line", "kind", "value"), [
    ("Order #A12345", "order_id", "A12345"),
    ("Order: #A12345", "order_id", "A12345"),
    ("Order ID: 6449343909", "order_id", "6449343909"),
    ("It is ORD-2024-0012, thanks", "order_id", "ORD-2024-0012"),
    ("Ticket 98765", "ticket_id", "98765"),
    ("Case #C-7781 escalated", "ticket_id", "C-7781"),
    ("see INC0012345", "ticket_id", "INC0012345"),
    ("Account: 1234-5678", "account_id", "1234-5678"),
    ("Account ID: WCUSTYQERI", "account_id", "WCUSTYQERI"),
    ("Payment: ERR_PAYMENT_DECLINED", "error_code", "ERR_PAYMENT_DECLINED"),
    ("The app showed Error 504 when", "error_code", "Error 504"),
    ("error code: 0x80070005", "error_code", "Error 0x80070005"),
    ("Code E1234", "error_code", "E1234"),
    ("504 Gateway Timeout", "error_code", "HTTP 504"),
    ("Total: $59.99", "amount", "59.99 USD"),
    ("Refund €1.234,56 issued", "amount", "1234.56 EUR"),
    ("I paid 12.99 USD.", "amount", "12.99 USD"),
    ("Balance: -£5", "amount", "-5.00 GBP"),
    ("USD 1,250.00 due", "amount", "1250.00 USD"),
    ("Purchase Date: 2020-01-02", "date", "2020-01-02"),
    ("shipped 03/15/2024", "date", "2024-03-15"),
    ("shipped 15/03/2024", "date", "2024-03-15"),
    ("Lieferung 15.03.2024", "date", "2024-03-15"),
    ("Estimated delivery: March 22, 2024", "date", "2024-03-22"),
    ("on 22 Mar 2024", "date", "2024-03-22"),
    ("due 1-Feb-2025", "date", "2025-02-01"),
    ("Product: Wireless Headphones", "product", "Wireless Headphones"),
    ("Item: iPhone 15 Pro", "product", "iPhone 15 Pro"),
    ("Status: Delayed", "status", "Delayed"),
    ("payment declined", "status", "Declined"),
    ("the order was canceled", "status", "Cancelled"),
    ("Parcel is in transit", "status", "In transit"),
    ("Status: Active", "status", "Active"),
])
def test_entity_patterns(line, kind, value):
    found = extract_entities([line])
    assert value in values(found, kind), found
    entity = next(e for e in found if e.kind == kind and e.value == value)
    assert line[entity.start:entity.end] == entity.text and entity.source == line and entity.line == 0


@pytest.mark.parametrize("line", [
    "Customer Service Site", "Order has been updated with 8589", "Order ID?", "Member Level: Silver",
    "Phone Number: (099) 109-0570", "Monterey, TX 85789", "Is it still active? And if not",
    "requested and attempt to get your refund", "in case 2 items", "Order Statement", "set MAX_RETRY_COUNT to 3",
])
def test_no_entities_in_ordinary_text(line):
    found = [e for e in extract_entities([line]) if e.kind != "status"]
    assert found == [], found


def test_impossible_dates_and_weak_status_words_are_not_entities():
    assert values(extract_entities(["due 02/30/2024", "on 2024-13-01"]), "date") == []
    assert values(extract_entities(["Is it still active?", "the door is open"]), "status") == []


def test_entities_report_line_and_span_and_resolve_overlaps():
    found = extract_entities(["Order #A12345 is Delayed", "Ticket 98765 opened 2024-03-15"])
    assert [(e.kind, e.value, e.line) for e in found] == [
        ("order_id", "A12345", 0), ("status", "Delayed", 0), ("ticket_id", "98765", 1), ("date", "2024-03-15", 1)]
    assert found[1].start == len("Order #A12345 is ")


def test_product_catalogue_matches_whole_words_case_insensitively():
    found = extract_entities(["I want the calvin  klein jeans", "Jeansville"], products=["Calvin Klein Jeans", "Jeans"])
    assert values(found, "product") == ["Calvin Klein Jeans"]


@pytest.mark.parametrize(("text", "number"), [("1.234,56", 1234.56), ("1,234.56", 1234.56), ("1,234", 1234.0),
                                               ("12,5", 12.5), ("59.99", 59.99), ("49", 49.0)])
def test_parse_number(text, number):
    assert parse_number(text) == pytest.approx(number)


def test_entities_module_is_pure_python():
    code = "import sys, assist.inference.screen.entities; print(json.dumps(sorted(m for m in ('cv2', 'numpy', 'onnxruntime', 'PySide6') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, cwd=REPO, check=True)
    assert json.loads(out.stdout) == []


def test_screen_package_never_imports_qt():
    code = ("import sys, json, assist.inference.screen.ocr, assist.inference.screen.synthetic; "
            "print(json.dumps([m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'rapidocr'))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert json.loads(out.stdout) == []  # no Qt, and rapidocr only once a ScreenReader is built


# --- reading order ------------------------------------------------------------------------------
def test_reading_order_keeps_columns_apart():
    left = [(20, 100 + 30 * i, 300, 20) for i in range(5)]  # chat panel, rows 30 px apart
    right = [(600, 112 + 25 * i, 300, 20) for i in range(6)]  # info panel, other spacing
    header = [(20, 10, 200, 24)]
    boxes = header + left + right
    order = [i for row in reading_order(boxes) for i in row]
    assert order == list(range(len(boxes)))
    assert all(len(row) == 1 for row in reading_order(boxes))


def test_reading_order_keeps_table_rows_together():
    boxes = []
    for i in range(6):
        boxes += [(250, 150 + 40 * i, 80, 18), (450, 149 + 40 * i, 120, 20)]  # label, value
    rows = reading_order(boxes)
    assert rows == [[2 * i, 2 * i + 1] for i in range(6)]


def test_reading_order_puts_a_heading_above_its_list():
    boxes = [(625, 213, 149, 26), (522, 255, 64, 33), (525, 315, 53, 30), (526, 375, 58, 29)]
    assert [i for row in reading_order(boxes) for i in row] == [0, 1, 2, 3]
    assert reading_order([]) == []


# --- preprocessing ------------------------------------------------------------------------------
def test_to_bgr8_handles_depths_and_channels():
    grey16 = np.full((20, 30), 65535, np.uint16)
    assert to_bgr8(grey16).shape == (20, 30, 3) and to_bgr8(grey16).max() == 255
    floats = np.full((5, 5, 3), 0.5, np.float32)
    assert to_bgr8(floats)[0, 0, 0] == 127
    assert to_bgr8(np.full((5, 5), np.nan, np.float32)).max() == 0
    assert to_bgr8(np.ones((5, 5), bool)).min() == 255
    transparent = np.zeros((4, 4, 4), np.uint8)  # black, fully transparent -> white
    assert to_bgr8(transparent).min() == 255
    opaque_red = np.zeros((4, 4, 4), np.uint8)
    opaque_red[..., 2] = 255
    opaque_red[..., 3] = 255
    assert to_bgr8(opaque_red)[0, 0].tolist() == [0, 0, 255]
    grey_alpha = np.zeros((4, 4, 2), np.uint8)  # black at half opacity over white -> mid grey
    grey_alpha[..., 1] = 128
    assert 120 <= to_bgr8(grey_alpha)[0, 0, 0] <= 135


def test_target_scale_bounds_the_longest_side():
    assert target_scale(10000, 10000) == pytest.approx(MAX_SIDE / 10000)
    assert target_scale(1280, 800) == 1.0
    assert 1.0 < target_scale(400, 300) <= 3.0


def test_blank_and_tiny_images_are_recognised():
    assert "1x1" in blank_reason(np.zeros((1, 1, 3), np.uint8))
    assert "blank" in blank_reason(np.full((600, 800, 3), 250, np.uint8))
    assert blank_reason(render_lines(["Order #A12345"])) == ""


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64])
def test_corrupt_bytes_raise_bad_input(data):
    with pytest.raises(BadInput, match="empty|not a readable image"):
        decode(data)


def test_truncated_png_raises_bad_input():
    ok, png = cv2.imencode(".png", render_lines(["Order #A12345 is Delayed"] * 5))
    with pytest.raises(BadInput, match="not a readable image"):
        decode(png.tobytes()[: len(png) // 3])


def test_missing_file_raises_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        prepare(tmp_path / "nope.png")


def test_cmyk_jpeg_decodes_to_the_same_picture():
    image_module = pytest.importorskip("PIL.Image")
    rendered = render_lines(["Status: Refunded"])
    cmyk = image_module.fromarray(cv2.cvtColor(rendered, cv2.COLOR_BGR2RGB)).convert("CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, "JPEG", quality=95)
    prepared = prepare(buffer.getvalue(), upscale_below=0)
    assert prepared.image.shape == rendered.shape
    assert np.abs(prepared.image.astype(int) - rendered.astype(int)).mean() < 3


def test_huge_image_is_shrunk_before_conversion():
    prepared = prepare(np.zeros((10000, 10000, 4), np.uint16))  # transparent 16-bit
    assert prepared.image.shape == (MAX_SIDE, MAX_SIDE, 3)
    assert prepared.image.dtype == np.uint8 and prepared.is_blank


# --- OCR (the real PP-OCR models from the rapidocr wheel) ----------------------------------------
@pytest.fixture(scope="module")
def reader():
    from assist.inference.screen import ScreenReader

    return ScreenReader()


@pytest.mark.slow
def test_reader_reports_the_provider_it_runs_on(reader):
    import onnxruntime as ort

    assert reader.provider in ort.get_available_providers()
    assert reader.provider == reader.providers[0]
    if reader.provider != "CUDAExecutionProvider":
        assert reader.provider == "CPUExecutionProvider"


def test_provider_choice_is_consistent_with_the_cuda_check():
    from assist.inference.runtime import cuda_problem, onnx_providers

    if cuda_problem():
        assert onnx_providers() == ["CPUExecutionProvider"]
    else:
        assert onnx_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers(prefer_gpu=False) == ["CPUExecutionProvider"]


@pytest.mark.slow
def test_asking_for_cuda_reports_the_provider_really_used():
    from assist.inference.runtime import cuda_problem
    from assist.inference.screen import ScreenReader

    forced = ScreenReader(providers=["CUDAExecutionProvider", "CPUExecutionProvider"], threads=1)
    expected = "CPUExecutionProvider" if cuda_problem() else "CUDAExecutionProvider"
    assert forced.provider == expected
    assert forced.read(render_lines(["Status: Shipped"])).provider == expected


ABCD_EXPECTED = {
    "action_example.png": ["Purchase has been validated.", "8589 Woodshore St", "Monterey, TX 85789",
                           "Has it been more than 7 days?", "Send"],
    "agent_dashboard.png": ["Agent Dashboard", "End Conversation", "Verify Identity", "Rodriguez Domingo",
                            "Notify Internal Team", "Subscription Status", "KB Querying"],
    "customer_site.png": ["Customer Service Site", "Order ID: 6449343909", "Account ID: WCUSTYQERI", "Amount: $49",
                          "Product: Jeans", "Purchase Date: 2020-01-02", "Ok, my username is as205981"],
    "faq_screenshot.png": ["FAQ or Policy", "Membership Privileges", "Single-item Query", "Storewide Query",
                           "(4) How long does membership last?"],
}


@pytest.mark.slow
@needs_abcd
@pytest.mark.parametrize("name", sorted(ABCD_EXPECTED))
def test_abcd_screenshots_are_read(reader, name):
    analysis = reader.read(ABCD_IMAGES / name)
    for expected in ABCD_EXPECTED[name]:
        assert expected in analysis.rows or expected in [line.text for line in analysis.lines], \
            f"{expected!r} not read from {name}: {analysis.rows}"
    assert analysis.provider == reader.provider and analysis.elapsed_ms > 0
    width, height = analysis.image_size
    for line in analysis.lines:
        x, y, w, h = line.box
        assert 0 <= x < x + w <= width and 0 <= y < y + h <= height
        assert line.confidence >= reader.min_confidence


@pytest.mark.slow
@needs_abcd
def test_abcd_customer_site_entities_boxes_and_reading_order(reader):
    analysis = reader.read((ABCD_IMAGES / "customer_site.png").read_bytes())
    entities = analysis.entities
    assert values(entities, "order_id") == ["6449343909"]
    assert values(entities, "account_id") == ["WCUSTYQERI"]
    assert "2020-01-02" in values(entities, "date")
    assert "49.00 USD" in values(entities, "amount")
    assert "Jeans" in values(entities, "product")
    title = next(line for line in analysis.lines if line.text == "Customer Service Site")
    x, y, w, h = title.box  # the header at the top left, 1019x954 original pixels
    assert x < 60 and y < 40 and 150 < w < 230 and 15 < h < 45
    # the chat panel (left) is read before the instructions (right), not interleaved with them
    rows = list(analysis.rows)
    assert "Hi, how may I assist you today?" in rows
    assert rows.index("Ok, my username is as205981") < rows.index("If asked about your preferences, pick anything")


@pytest.mark.slow
@needs_abcd
def test_abcd_products_from_the_shop_catalogue(reader):
    from assist.inference.screen import ScreenReader

    ontology = json.loads((data_dir() / "abcd" / "ontology.json").read_text())
    catalogue = [name.title() for name in ontology["intents"]["subflows"]["single_item_query"]]
    shop_reader = ScreenReader(products=catalogue)
    analysis = shop_reader.read(ABCD_IMAGES / "faq_screenshot.png")
    assert sorted(set(values(analysis.entities, "product"))) == ["Boots", "Jacket", "Jeans", "Shirt"]


@pytest.mark.slow
def test_rendered_order_page_gives_the_entities(reader):
    page = OrderPage(
        fields=[("Order", "#A12345"), ("Status", "Delayed"), ("Product", "Wireless Headphones"),
                ("Ordered on", "2024-03-15"), ("Estimated delivery", "March 22, 2024"), ("Ticket", "98765"),
                ("Account", "1234-5678"), ("Payment", "ERR_PAYMENT_DECLINED"), ("Total", "$59.99")],
        chat=[("customer", "It is ORD-2024-0012, I paid 59.99 USD."),
              ("customer", "The app showed Error 504 when I tried to track it.")],
    )
    analysis = reader.read(render_order_page(page))
    e = analysis.entities
    assert set(values(e, "order_id")) == {"A12345", "ORD-2024-0012"}
    assert "Delayed" in values(e, "status")
    assert values(e, "amount").count("59.99 USD") == 2
    assert values(e, "ticket_id") == ["98765"]
    assert values(e, "account_id") == ["1234-5678"]
    assert set(values(e, "error_code")) == {"ERR_PAYMENT_DECLINED", "Error 504"}
    assert set(values(e, "date")) == {"2024-03-15", "2024-03-22"}
    assert values(e, "product") == ["Wireless Headphones"]
    assert "Order: #A12345" in analysis.rows  # label and value on one row
    assert analysis.text.startswith("Support Console - Order Details")


@pytest.mark.slow
def test_small_rendered_screen_boxes_map_to_original_pixels(reader):
    image = np.full((120, 360, 3), 255, np.uint8)  # small: enlarged before OCR
    cv2.putText(image, "Refunded", (40, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
    analysis = reader.read(image)
    assert [line.text for line in analysis.lines] == ["Refunded"]
    x, y, w, h = analysis.lines[0].box
    assert 25 <= x <= 45 and 35 <= y <= 55 and 130 <= w <= 190 and 20 <= h <= 50
    assert values(analysis.entities, "status") == ["Refunded"]


@pytest.mark.slow
def test_dark_theme_and_colour_variants(reader, tmp_path):
    lines = ["Refund of 12.99 USD was Declined", "Ticket 98765 opened 03/15/2024", "Code E1234: 504 Gateway Timeout"]
    dark = render_lines(lines, fg=(235, 235, 235), bg=(40, 36, 34))
    grey16 = cv2.cvtColor(render_lines(lines), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    path = tmp_path / "grey16.png"
    assert cv2.imwrite(str(path), grey16)
    assert decode(path).dtype == np.uint16
    for source in (dark, path):
        e = reader.read(source).entities
        assert values(e, "amount") == ["12.99 USD"] and "Declined" in values(e, "status")
        assert values(e, "ticket_id") == ["98765"] and values(e, "date") == ["2024-03-15"]
        assert set(values(e, "error_code")) == {"E1234", "HTTP 504"}


@pytest.mark.slow
@pytest.mark.skipif(int(cv2.__version__.split(".")[0]) < 5, reason="OpenCV < 5 draws ASCII only")
def test_euro_amount_on_screen(reader):
    e = reader.read(render_lines(["Refund: €1.234,56 pending"])).entities
    assert values(e, "amount") == ["1234.56 EUR"] and values(e, "status") == ["Pending"]


@pytest.mark.slow
def test_rgba_with_transparent_background(reader):
    rgba = np.zeros((140, 520, 4), np.uint8)  # black text on a fully transparent (black) background
    cv2.putText(rgba, "Status: Failed", (20, 85), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0, 255), 3, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", rgba)
    analysis = reader.read(png.tobytes())
    assert values(analysis.entities, "status") == ["Failed"], analysis.rows


@pytest.mark.slow
def test_cmyk_jpeg_is_read(reader):
    image_module = pytest.importorskip("PIL.Image")
    rgb = cv2.cvtColor(render_lines(["Order #A12345 is Delayed"]), cv2.COLOR_BGR2RGB)
    buffer = io.BytesIO()
    image_module.fromarray(rgb).convert("CMYK").save(buffer, "JPEG", quality=90)
    analysis = reader.read(buffer.getvalue())
    assert values(analysis.entities, "order_id") == ["A12345"]


@pytest.mark.slow
@pytest.mark.parametrize("image", [
    np.full((800, 1280, 3), 255, np.uint8),  # blank white
    np.zeros((1, 1, 3), np.uint8),  # 1x1
    np.full((10, 3000, 4), 0, np.uint8),  # thin, transparent
], ids=["blank", "1x1", "transparent-strip"])
def test_blank_and_tiny_images_give_no_text_found(reader, image):
    analysis = reader.read(image)
    assert not analysis.has_text and analysis.text == "" and analysis.entities == ()
    assert analysis.note.startswith("no text found")


@pytest.mark.slow
def test_noise_gives_no_text_rather_than_confident_nonsense(reader):
    noise = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    analysis = reader.read(noise)
    assert not analysis.has_text and analysis.note.startswith("no text found")


@pytest.mark.slow
def test_huge_image_is_read_in_bounded_time(reader):
    big = np.full((10000, 10000, 3), 255, np.uint8)
    cv2.putText(big, "Order #A12345 Delayed", (600, 5000), cv2.FONT_HERSHEY_SIMPLEX, 12, (0, 0, 0), 24, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", big)
    started = time.perf_counter()
    analysis = reader.read(png.tobytes())
    assert time.perf_counter() - started < 60  # ~5 s on a busy 2-core CPU
    assert analysis.image_size == (10000, 10000)
    assert values(analysis.entities, "order_id") == ["A12345"] and "Delayed" in values(analysis.entities, "status")
    (text_w, text_h), _ = cv2.getTextSize("Order #A12345 Delayed", cv2.FONT_HERSHEY_SIMPLEX, 12, 24)
    left = min(line.box[0] for line in analysis.lines)
    right = max(line.box[0] + line.box[2] for line in analysis.lines)
    top = min(line.box[1] for line in analysis.lines)
    # boxes are in original pixels: the text starts at x=600 and has its baseline at y=5000
    assert abs(left - 600) < 150 and abs((right - left) - text_w) < 300 and abs(top - (5000 - text_h)) < 150


@pytest.mark.slow
def test_corrupt_and_missing_inputs_raise_bad_input(reader, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    for source in (broken, tmp_path / "missing.png", b"\xff\xd8\xff\xe0 truncated jpeg"):
        with pytest.raises(BadInput):
            reader.read(source)
