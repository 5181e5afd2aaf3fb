"""Reading order for OCR boxes on a screen: columns first, then rows, then left to right.

OCR engines sort boxes top-to-bottom, which interleaves the lines of side-by-side panels (a chat
panel beside an order card reads as alternating sentences). This is a recursive XY-cut: at each
step the region is cut at its widest empty gap, a vertical gap (between columns) or a horizontal
one (between rows). A vertical cut is refused where the two sides are row-aligned, as in a
``Label:  value`` table, so those pairs stay on one line; and inside a single row. Pure Python.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Box = tuple[int, int, int, int]  # x, y, w, h

COLUMN_GAP_LINES = 1.5  # a vertical gap narrower than this many line heights is not a column gap
TABLE_ALIGNED = 0.6  # sides with at least this share of row-aligned boxes are a table, not columns


def reading_order(boxes: Sequence[Box]) -> list[list[int]]:
    """Indices of ``boxes`` grouped into rows, rows in reading order, each row left to right."""
    if not boxes:
        return []
    line_height = max(1.0, statistics.median(h for _, _, _, h in boxes))
    return _cut(list(range(len(boxes))), boxes, line_height)


def _gaps(idx: list[int], boxes: Sequence[Box], axis: int) -> list[tuple[float, float]]:
    """Empty intervals (start, end) between the boxes' projections on ``axis`` (0 = x, 1 = y)."""
    spans = sorted((boxes[i][axis], boxes[i][axis] + boxes[i][axis + 2]) for i in idx)
    gaps: list[tuple[float, float]] = []
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _center_y(box: Box) -> float:
    return box[1] + box[3] / 2


def _row_aligned_share(a: list[int], b: list[int], boxes: Sequence[Box]) -> float:
    """Share of the smaller side's boxes whose vertical centre matches one on the other side."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    aligned = sum(
        1 for i in small
        if any(abs(_center_y(boxes[i]) - _center_y(boxes[j])) <= 0.25 * min(boxes[i][3], boxes[j][3]) for j in large)
    )
    return aligned / len(small)


def _side_by_side(a: list[int], b: list[int], boxes: Sequence[Box]) -> bool:
    """True when the two groups share most of their height (columns), not one above the other."""
    top_a, bottom_a = min(boxes[i][1] for i in a), max(boxes[i][1] + boxes[i][3] for i in a)
    top_b, bottom_b = min(boxes[i][1] for i in b), max(boxes[i][1] + boxes[i][3] for i in b)
    overlap = min(bottom_a, bottom_b) - max(top_a, top_b)
    return overlap >= 0.5 * min(bottom_a - top_a, bottom_b - top_b)


def _split(idx: list[int], boxes: Sequence[Box], axis: int, at: float) -> tuple[list[int], list[int]]:
    before = [i for i in idx if boxes[i][axis] + boxes[i][axis + 2] <= at]
    after = [i for i in idx if boxes[i][axis] + boxes[i][axis + 2] > at]
    return before, after


def _cut(idx: list[int], boxes: Sequence[Box], line_height: float) -> list[list[int]]:
    if len(idx) == 1:
        return [idx]
    y_gaps = _gaps(idx, boxes, 1)
    top = min(boxes[i][1] for i in idx)
    bottom = max(boxes[i][1] + boxes[i][3] for i in idx)
    column = None
    if bottom - top > 1.5 * line_height:  # more than one row: columns are possible
        for start, end in sorted(_gaps(idx, boxes, 0), key=lambda g: g[0] - g[1]):
            if end - start < COLUMN_GAP_LINES * line_height:
                break
            left, right = _split(idx, boxes, 0, (start + end) / 2)
            if _side_by_side(left, right, boxes) and _row_aligned_share(left, right, boxes) < TABLE_ALIGNED:
                column = (start, end, left, right)
                break
    widest_row_gap = max((end - start for start, end in y_gaps), default=0.0)
    if column and column[1] - column[0] >= widest_row_gap:
        return _cut(column[2], boxes, line_height) + _cut(column[3], boxes, line_height)
    if y_gaps:
        start, end = max(y_gaps, key=lambda g: g[1] - g[0])
        upper, lower = _split(idx, boxes, 1, (start + end) / 2)
        return _cut(upper, boxes, line_height) + _cut(lower, boxes, line_height)
    if column:
        return _cut(column[2], boxes, line_height) + _cut(column[3], boxes, line_height)
    return _rows(idx, boxes)


def _rows(idx: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    """Group overlapping boxes into rows by their vertical centres; each row left to right."""
    rows: list[list[int]] = []
    for i in sorted(idx, key=lambda i: _center_y(boxes[i])):
        if rows:
            last = rows[-1]
            mean_center = sum(_center_y(boxes[j]) for j in last) / len(last)
            if abs(_center_y(boxes[i]) - mean_center) <= 0.5 * boxes[i][3]:
                last.append(i)
                continue
        rows.append([i])
    return [sorted(row, key=lambda i: boxes[i][0]) for row in rows]
