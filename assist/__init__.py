"""Assist: offline multimodal agent assist."""

from assist._version import __version__

__all__ = ["__version__"]
