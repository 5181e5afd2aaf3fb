"""Errors of the capture library, in words a support agent understands (shown in the window and the log)."""

from __future__ import annotations


class CaptureError(Exception):
    """Something the capture layer could not do (device, file, feed, screen)."""


class AudioDeviceError(CaptureError):
    """No such audio device, a device that refuses the format, or a stream that died mid-call."""


class FeedError(CaptureError):
    """A chat source (transcript file, tailed file, socket) that cannot be read."""


class FeedBusy(FeedError):
    """The app cannot take another fed message now (its queue is full): the client is told to retry; nothing that
    was acknowledged is ever dropped."""


class ScreenCaptureError(CaptureError):
    """A screenshot that cannot be taken, read or stored."""
