"""The call panel: pick the agent's microphone and the customer's side, Start/Stop (Ctrl+L), live levels,
what the customer is saying right now, and capture health (overflows, dropped audio)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
)

from assist.capture.audio import AGENT, CUSTOMER
from assist.pipeline.call import CallRequest

METER_FLOOR_DB = -60
NONE_KEY = ""
_METER = "QProgressBar {{ border:1px solid #bbb; border-radius:3px; background:#fafafa; max-height:10px }}" \
         "QProgressBar::chunk {{ background:{colour} }}"


class CallPanel(QGroupBox):
    start_requested = Signal(object)  # CallRequest
    stop_requested = Signal()

    def __init__(self) -> None:
        super().__init__("Call")
        self.running = False
        self.pickers = {AGENT: QComboBox(), CUSTOMER: QComboBox()}
        self.meters = {side: QProgressBar() for side in self.pickers}
        layout = QGridLayout(self)
        for row, (side, title) in enumerate(((AGENT, "Agent mic"), (CUSTOMER, "Customer side"))):
            picker, meter = self.pickers[side], self.meters[side]
            picker.setToolTip("Linux: the customer's side is the '.monitor' of the output your softphone plays to. "
                              "Windows: the output's loopback, or 'Stereo Mix'." if side == CUSTOMER
                              else "The microphone you speak into")
            picker.setMinimumWidth(150)
            meter.setRange(METER_FLOOR_DB, 0)
            meter.setValue(METER_FLOOR_DB)
            meter.setTextVisible(False)
            meter.setFixedWidth(70)
            meter.setStyleSheet(_METER.format(colour="#43a047"))
            meter.setToolTip("Input level")
            layout.addWidget(QLabel(title), row, 0)
            layout.addWidget(picker, row, 1)
            layout.addWidget(meter, row, 2)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Look for audio devices again")
        self.refresh_button.clicked.connect(self.refresh_devices)
        self.button = QPushButton("Start call")
        self.button.setToolTip("Start or stop listening to the call (Ctrl+L)")
        self.button.clicked.connect(self.toggle)
        self.record = QCheckBox("Record")
        self.record.setToolTip("Save the call audio (each side, Ogg/Opus) with the session for supervisors. Off "
                               "by default; tell the customer when you record.")
        self.rec_indicator = QLabel("● REC")
        self.rec_indicator.setStyleSheet("color:white; background:#c62828; border-radius:4px; padding:1px 6px; "
                                         "font-weight:bold")
        self.rec_indicator.setToolTip("This call is being recorded")
        self.rec_indicator.hide()
        layout.addWidget(self.refresh_button, 0, 3)
        layout.addWidget(self.button, 1, 3)
        self.partial = QLabel()
        self.partial.setStyleSheet("color:#555; font-style:italic")
        self.partial.setWordWrap(True)
        self.partial.setFixedHeight(2 * self.partial.fontMetrics().lineSpacing() + 4)
        self.health = QLabel("Not listening")
        self.health.setStyleSheet("color:#666")
        self.health.setWordWrap(True)
        self.health.setMinimumWidth(100)
        layout.addWidget(self.partial, 2, 0, 1, 4)
        layout.addWidget(self.health, 3, 0, 1, 2)
        layout.addWidget(self.rec_indicator, 3, 2)
        layout.addWidget(self.record, 3, 3)
        layout.setColumnStretch(1, 1)

    def refresh_devices(self, devices: list | None = None) -> None:
        """Fill the pickers (system defaults selected; the current choice kept when still there)."""
        if devices is None or isinstance(devices, bool):
            from assist.capture.devices import list_devices

            devices = list_devices()
        from assist.capture.devices import default_device

        for side, picker in self.pickers.items():
            previous = picker.currentData()
            picker.clear()
            picker.addItem("(none)", NONE_KEY)
            ordered = sorted(devices, key=lambda d: d.loopback != (side == CUSTOMER))  # likely ones first
            for device in ordered:
                picker.addItem(device.label, device.key)
            default = default_device(side, devices)
            keys = [picker.itemData(i) for i in range(picker.count())]
            chosen = previous if previous in keys and previous != NONE_KEY else (default.key if default else NONE_KEY)
            picker.setCurrentIndex(keys.index(chosen))
        if not devices:
            self.health.setText("No audio inputs found (is a sound server running?). Calls can still be replayed: "
                                "assist demo --call FILE.wav")

    def request(self) -> CallRequest:
        return CallRequest(agent_device=self.pickers[AGENT].currentData(),
                           customer_device=self.pickers[CUSTOMER].currentData(), record=self.record.isChecked())

    def toggle(self) -> None:
        if self.running:
            self.stop_requested.emit()
        else:
            self.start_requested.emit(self.request())

    def on_started(self, devices: dict) -> None:
        self.running = True
        self.button.setText("Stop call")
        self.button.setStyleSheet("QPushButton { background:#c62828; color:white; font-weight:bold }")
        for picker in self.pickers.values():
            picker.setEnabled(False)
        self.record.setEnabled(False)
        self.rec_indicator.setVisible("recording" in devices)
        names = ", ".join(f"{side}: {name}" for side, name in devices.items() if side != "recording")
        self.health.setText(f"● Listening ({names})")

    def on_stopped(self, stats: dict) -> None:
        self.running = False
        self.button.setText("Start call")
        self.button.setStyleSheet("")
        for picker in self.pickers.values():
            picker.setEnabled(True)
        self.record.setEnabled(True)
        self.rec_indicator.hide()
        for meter in self.meters.values():
            meter.setValue(METER_FLOOR_DB)
        self.partial.clear()
        self.health.setText(f"Call ended. {describe_stats(stats)}" if stats else "Not listening")

    def on_level(self, side: str, level_db: float) -> None:
        meter = self.meters.get(side)
        if meter is not None:
            meter.setValue(int(max(METER_FLOOR_DB, min(0.0, level_db))))
            loud = level_db > -3
            meter.setStyleSheet(_METER.format(colour="#e53935" if loud else "#43a047"))

    def on_partial(self, partial: object) -> None:
        who = "Customer" if getattr(partial, "channel", "") == CUSTOMER else "Agent"
        self.partial.setText(f"{who} is saying: {getattr(partial, 'text', '')} …")
        self.partial.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

    def on_stats(self, stats: dict) -> None:
        if self.running:
            self.health.setText(f"● Listening. {describe_stats(stats)}")

    def clear_partial(self) -> None:
        self.partial.clear()


def describe_stats(stats: dict) -> str:
    """'customer 12.3 s, 0 overflows, 0 s dropped; agent ...' for the panel and the tooltip."""
    parts = []
    for side, s in stats.items():
        dropped = s.get("dropped_frames", 0)
        text = f"{side} {s.get('seconds', 0):.0f} s heard, {s.get('overflows', 0)} overflows"
        if dropped:
            text += f", {dropped} samples dropped"
        if s.get("recording"):
            text += ", recorded"
        if s.get("errors"):
            text += f" — {s['errors'][-1]}"
        parts.append(text)
    return "; ".join(parts)


__all__ = ["CallPanel", "describe_stats"]
