"""Exceptions. Each subclasses :class:`NeurochipError` and the matching built-in."""


class NeurochipError(Exception):
    """Base class of every error neurochip raises on purpose."""


class ValidationError(NeurochipError, ValueError):
    """A parameter or network description is invalid."""


class ResourceError(NeurochipError, ValueError):
    """A network does not fit the hardware it is compiled for."""


class BackendError(NeurochipError, RuntimeError):
    """A simulation backend failed (for example, Brian2 could not compile code)."""


class FileFormatError(NeurochipError, OSError):
    """A file is not a valid neurochip file."""
