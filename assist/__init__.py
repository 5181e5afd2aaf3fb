"""Assist: offline multimodal agent assist."""

import time as _time

from assist._version import __version__

# When this process began running Assist's own code: the first import of the package (the entry point's first
# line). The start-up figures count from here, not from the process's creation, which an ``exec`` from a shell
# script (packaging/dev.sh runs its install first) or a launcher would push back by however long that took.
STARTED_MONOTONIC = _time.monotonic()


def seconds_since_start() -> float:
    """Seconds since this process began running Assist's code (see ``STARTED_MONOTONIC``)."""
    return _time.monotonic() - STARTED_MONOTONIC


__all__ = ["STARTED_MONOTONIC", "__version__", "seconds_since_start"]
