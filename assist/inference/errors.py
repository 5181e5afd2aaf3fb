"""Errors raised by the inference library, worded for the person who sees them."""


class InferenceError(Exception):
    """Base class for inference failures."""


class ModelUnavailable(InferenceError):
    """A model or runtime could not be found or loaded (missing, corrupt, wrong version)."""


class BadInput(InferenceError):
    """The input cannot be analysed (empty, binary, ...)."""
