"""Typed errors. Every message says what went wrong and what to do about it."""

from __future__ import annotations


class VerispecError(Exception):
    """Base class of every error verispec raises on purpose."""


class ConfigError(VerispecError, ValueError):
    """An option is out of range or a combination of options makes no sense."""


class PromptError(VerispecError, ValueError):
    """The prompt is empty or does not fit in the model's context."""


class VocabularyMismatchError(VerispecError, ValueError):
    """Draft and verifier use different vocabularies for a method that needs one vocabulary."""


class ModelNotFoundError(VerispecError, LookupError):
    """A model name is neither a registry name, a local directory nor a usable hub id."""


class ModelNotPulledError(VerispecError, LookupError):
    """An embedded model is known but its weights are not in the local cache yet."""


class ModelPackageError(VerispecError, RuntimeError):
    """The PyPI packages that carry an embedded model could not be installed or are corrupt."""


class TaskNotFoundError(VerispecError, LookupError):
    """An evaluation task name is not in the task registry."""


class DataNotAvailableError(VerispecError, LookupError):
    """A benchmark data package (installed by `verispec data pull`) is missing or incomplete."""


class JudgeHeadNotFoundError(VerispecError, LookupError):
    """No judge head was given and none ships for the verifier, or the head file does not exist."""


class JudgeHeadMismatchError(VerispecError, ValueError):
    """A judge head was trained on another verifier's hidden states (model, width, vocabulary or layer)."""


class JudgeDataError(VerispecError, ValueError):
    """A judge training data set is malformed or cannot give what training needs (e.g. no bad tokens)."""


class ClassifierMismatchError(VerispecError, ValueError):
    """A CoSD tree or deferral classifier file was trained for other models, vocabularies or features."""
