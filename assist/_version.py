"""The one place Assist's version is written: the package metadata (pyproject), ``assist --version``, the About
dialog, the journal's ``app_version`` and the installers all read it from here."""

__version__ = "0.1.0"
