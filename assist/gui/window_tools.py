"""The window's knowledge tools: the knowledge-base tab, the reply bank dialog, and the language model's drafts.

Built by the main window beside its conversation tab; the knowledge base and the reply bank arrive with the
loaded engines (``on_ready``), so until then the panel says it is loading and the Macros action is disabled.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QTabWidget, QToolBar

from assist.gui.kb_panel import KnowledgePanel
from assist.gui.suggestions import SuggestionsPanel


class KnowledgeTools(QObject):
    macros_changed = Signal()  # the reply bank was edited: the ranker must re-read it
    kb_changed = Signal()

    def __init__(self, window: QMainWindow, toolbar: QToolBar, tabs: QTabWidget, suggestions: SuggestionsPanel) -> None:
        super().__init__(window)
        self.window, self.tabs, self.suggestions = window, tabs, suggestions
        self.bank: Any = None
        self.dialog: Any = None
        self.panel = KnowledgePanel(None, reason="It opens once the model has loaded.")
        self.panel.kb_changed.connect(self.kb_changed)
        self.kb_tab = tabs.addTab(self.panel, "Knowledge base")
        tabs.setTabToolTip(self.kb_tab, "Search and read the knowledge base, import articles (Ctrl+K)")
        self.macros_action = QAction("Macros…", window, shortcut=QKeySequence("Ctrl+Shift+M"))
        self.macros_action.setToolTip("Manage the reply bank: canned replies with placeholders (Ctrl+Shift+M)")
        self.macros_action.setEnabled(False)
        self.macros_action.triggered.connect(self.open_macros)
        toolbar.addSeparator()
        toolbar.addAction(self.macros_action)
        QShortcut(QKeySequence("Ctrl+K"), window, activated=self.toggle_kb)
        QShortcut(QKeySequence("Ctrl+F"), window, activated=self.search_kb)
        QShortcut(QKeySequence("Ctrl+Shift+O"), window, activated=suggestions.open_source)
        QShortcut(QKeySequence("Alt+4"), window, activated=suggestions.insert_draft)
        suggestions.source_requested.connect(self.open_article)
        self._draft: Any = None
        self._shown_message = ""

    # ----- engines
    def on_ready(self, info: dict) -> None:
        store = info.get("kb")
        self.panel.set_store(store, reason="" if store is not None else "The knowledge base could not be opened.")
        self.bank = info.get("macros")
        self.macros_action.setEnabled(self.bank is not None)

    # ----- knowledge base
    def toggle_kb(self) -> None:
        self.tabs.setCurrentIndex(0 if self.tabs.currentIndex() == self.kb_tab else self.kb_tab)
        if self.tabs.currentIndex() == self.kb_tab:
            self.panel.focus_search()

    def search_kb(self) -> None:
        self.tabs.setCurrentIndex(self.kb_tab)
        self.panel.focus_search()

    def open_article(self, article_id: str) -> None:
        self.tabs.setCurrentIndex(self.kb_tab)
        self.panel.open_article(article_id)

    # ----- reply bank
    def open_macros(self) -> None:
        if self.bank is None:
            return
        from assist.gui.macro_dialog import MacroDialog

        if self.dialog is None:
            self.dialog = MacroDialog(self.bank, parent=self.window)
            self.dialog.bank_changed.connect(self.macros_changed)
        self.dialog.show()
        self.dialog.raise_()

    # ----- drafts (a draft may stream in before its message's Insight is shown: keep it until then)
    def on_insight_shown(self, message_id: str) -> None:
        self._shown_message = message_id
        if self._draft is not None and self._draft.message_id == message_id:
            self.suggestions.show_draft(self._draft)
        else:
            self.suggestions.clear_draft()

    def on_draft(self, update: Any) -> None:
        self._draft = update
        if update.message_id == self._shown_message:
            self.suggestions.show_draft(update)

    def shutdown(self) -> bool:
        return self.panel.shutdown()
