"""The About box: Assist's version (from assist._version, like ``assist --version``), the loaded models and where
they run, and where this user's data lives."""

from __future__ import annotations

import html
import platform
import sys

from PySide6.QtWidgets import QMessageBox, QWidget

from assist._version import __version__


def _folders() -> str:
    """Where this user's data, settings and logs are (what support asks first); kept when Assist is uninstalled."""
    from assist.paths import user_folders

    folders = user_folders()
    rows = "".join(f"<tr><td>{label}</td><td>{html.escape(str(folders[key]))}</td></tr>"
                   for key, label in (("data", "Journal, knowledge base"), ("settings", "Settings"), ("logs", "Logs")))
    return (f"<p><b>Your files</b> (kept when Assist is uninstalled; <tt>assist data remove</tt> deletes them)</p>"
            f"<table>{rows}</table>")


def about_text(info: dict | None = None) -> str:
    info = info or {}
    models = info.get("versions") or {}
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in models.items())
    runs = html.escape(str(info.get("provider") or "—"))
    return (f"<h3>Assist {__version__}</h3><p>Offline agent assist: emotion, intent, escalation risk and suggested "
            f"replies, on this computer only. Nothing leaves the machine.</p>"
            + (f"<p><b>Models</b></p><table>{rows}</table>" if rows else "<p>Models: still loading.</p>")
            + f"<p>Runs on: {runs}<br/>Python {sys.version.split()[0]} · {html.escape(platform.platform())}</p>"
            + _folders())


def show_about(parent: QWidget, info: dict | None = None) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About Assist")
    box.setText(about_text(info))
    box.open()
    return box
