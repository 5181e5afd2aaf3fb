"""Synthetic support-tool screenshots drawn with OpenCV, for tests, benchmarks and demos.

Text is drawn with ``cv2.putText`` (Hershey fonts, anti-aliased), so no font files are needed and
the ground truth is known exactly. The pages imitate the tools an agent has open: a dark header,
a navigation column, a card of ``Label: value`` rows and a chat panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK = (20, 20, 20)
WHITE = (255, 255, 255)
GREY_TEXT = (90, 90, 90)
HEADER_BG = (58, 52, 50)
PANEL_BG = (247, 247, 247)
BORDER = (210, 210, 210)
AGENT_BUBBLE = (222, 140, 80)  # BGR: blue bubbles with white text, like the ABCD tools
CUSTOMER_BUBBLE = (236, 236, 236)
BUTTON_BG = (92, 184, 92)


@dataclass
class OrderPage:
    """What goes on a rendered order page; defaults make a realistic 1280x800 screen."""

    title: str = "Support Console - Order Details"
    fields: list[tuple[str, str]] = field(default_factory=lambda: [
        ("Order", "#A12345"),
        ("Status", "Delayed"),
        ("Product", "Wireless Headphones"),
        ("Ordered on", "2024-03-15"),
        ("Estimated delivery", "March 22, 2024"),
        ("Ticket", "98765"),
        ("Account", "1234-5678"),
        ("Payment", "ERR_PAYMENT_DECLINED"),
        ("Total", "$59.99"),
    ])
    chat: list[tuple[str, str]] = field(default_factory=lambda: [
        ("customer", "Hi, my order still has not arrived."),
        ("agent", "Sorry to hear that. Can I get your order number?"),
        ("customer", "It is ORD-2024-0012, I paid 59.99 USD."),
        ("agent", "Thanks, I see the shipment was delayed."),
        ("customer", "The app showed Error 504 when I tried to track it."),
        ("agent", "I can offer a refund or a replacement."),
    ])
    nav: list[str] = field(default_factory=lambda: [
        "Dashboard", "Orders", "Customers", "Tickets", "Refunds", "Reports", "Settings"])
    buttons: list[str] = field(default_factory=lambda: ["Offer Refund", "Update Order", "Escalate"])

    def texts(self) -> list[str]:
        """Every string drawn on the page (ground truth for recognition checks)."""
        return ([self.title, "Agent: J. Rivera", *self.nav, "Order Summary"]
                + [f"{label}:" for label, _ in self.fields] + [value for _, value in self.fields]
                + list(self.buttons) + ["Conversation"] + [text for _, text in self.chat])


def text_size(text: str, scale: float, thickness: int = 1) -> tuple[int, int]:
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    return w, h + baseline


def put_text(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.6,
             color: tuple[int, int, int] = BLACK, thickness: int = 1) -> None:
    """Draw ``text`` with its top-left corner at (x, y)."""
    _, h = text_size(text, scale, thickness)
    cv2.putText(img, text, (x, y + h - 4), FONT, scale, color, thickness, cv2.LINE_AA)


def render_lines(lines: list[str], width: int = 900, height: int | None = None, scale: float = 0.8,
                 margin: int = 30, line_gap: int = 22, fg: tuple[int, int, int] = BLACK,
                 bg: tuple[int, int, int] = WHITE) -> np.ndarray:
    """Text lines on a plain canvas (the simplest screenshot): black on white unless told."""
    thickness = 2 if scale >= 0.7 else 1
    row = text_size("Ag", scale, thickness)[1] + line_gap
    height = height or margin * 2 + row * len(lines)
    img = np.full((height, width, 3), bg, np.uint8)
    for i, line in enumerate(lines):
        put_text(img, line, margin, margin + i * row, scale, fg, thickness)
    return img


def render_order_page(page: OrderPage | None = None, width: int = 1280, height: int = 800) -> np.ndarray:
    """A 1280x800 (by default) support-console page: header, nav, order card, chat, buttons."""
    page = page or OrderPage()
    img = np.full((height, width, 3), 255, np.uint8)
    cv2.rectangle(img, (0, 0), (width, 56), HEADER_BG, -1)
    put_text(img, page.title, 24, 16, 0.75, WHITE, 2)
    put_text(img, "Agent: J. Rivera", width - 200, 18, 0.55, WHITE, 1)

    cv2.rectangle(img, (0, 56), (200, height), PANEL_BG, -1)
    for i, item in enumerate(page.nav):
        put_text(img, item, 24, 86 + i * 44, 0.6, GREY_TEXT, 1)

    card_x, card_y, card_w = 230, 84, 470
    row_h = 40
    card_h = 70 + row_h * len(page.fields)
    cv2.rectangle(img, (card_x, card_y), (card_x + card_w, card_y + card_h), BORDER, 1)
    put_text(img, "Order Summary", card_x + 20, card_y + 16, 0.8, BLACK, 2)
    for i, (label, value) in enumerate(page.fields):
        y = card_y + 64 + i * row_h
        put_text(img, f"{label}:", card_x + 20, y, 0.6, GREY_TEXT, 1)
        put_text(img, value, card_x + 220, y, 0.6, BLACK, 1)

    bx = card_x
    for label in page.buttons:
        w, _ = text_size(label, 0.6, 1)
        cv2.rectangle(img, (bx, card_y + card_h + 24), (bx + w + 28, card_y + card_h + 64), BUTTON_BG, -1)
        put_text(img, label, bx + 14, card_y + card_h + 34, 0.6, WHITE, 1)
        bx += w + 48

    chat_x, chat_w = 740, width - 740 - 30
    cv2.rectangle(img, (chat_x, 84), (chat_x + chat_w, height - 30), PANEL_BG, -1)
    cv2.rectangle(img, (chat_x, 84), (chat_x + chat_w, height - 30), BORDER, 1)
    put_text(img, "Conversation", chat_x + 16, 98, 0.7, BLACK, 2)
    y = 144
    for who, text in page.chat:
        w, h = text_size(text, 0.5, 1)
        w = min(w, chat_w - 60)
        x = chat_x + chat_w - w - 36 if who == "agent" else chat_x + 16
        bg, fg = (AGENT_BUBBLE, WHITE) if who == "agent" else (CUSTOMER_BUBBLE, BLACK)
        cv2.rectangle(img, (x, y), (x + w + 20, y + h + 16), bg, -1)
        put_text(img, text, x + 10, y + 8, 0.5, fg, 1)
        y += h + 34
    return img
