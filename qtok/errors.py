"""The exceptions qtok raises on purpose, all in one place.

Every one but MissingDependency is a ValueError (InvalidToken a KeyError
too, as tiktoken raises),
so code that catches ValueError keeps working.  The message of each says
what was wrong and what to do about it.  This module imports nothing, so the
native core and every other module can use it.
"""


class InvalidToken(ValueError, KeyError):
    """An id that is not in the vocabulary.

    A ValueError, and also a KeyError because that is what tiktoken raises,
    so code written for either keeps working.
    """
    __str__ = ValueError.__str__


def invalid_token(token) -> InvalidToken:
    """The InvalidToken for an id, worded the same wherever it is raised."""
    return InvalidToken(f"invalid token id {token!r}: not in the vocabulary")


class VocabularyError(ValueError):
    """A vocabulary file that is missing, damaged, or of the wrong kind."""


class LanguageError(ValueError):
    """A language code or name that is not in the manifest (a user error)."""


class CorpusError(ValueError):
    """A corpus that cannot be read; the message says what to do about it."""


class BackendError(ValueError):
    """A tokenizer spec that cannot be resolved; the message says what to do."""


class PlotError(ValueError):
    """A chart that cannot be drawn or saved (a user error)."""


class ReportError(ValueError):
    """A bad combination of report options (a user error)."""


class MissingDependency(ImportError):
    """An optional package a feature needs is not installed; the message
    says what to install.  An ImportError, as code expects of a missing
    package (the one exception here that is not a ValueError)."""


#: The errors of the compression analyser that are the user's to fix: the
#: command line reports them in one line and exits 2.
ANALYSIS_ERRORS = (ReportError, CorpusError, LanguageError, BackendError, PlotError,
                   VocabularyError, MissingDependency)

def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has
    none): what a one-line error quotes of a library's own error."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


__all__ = ["InvalidToken", "VocabularyError", "LanguageError", "CorpusError", "BackendError",
           "PlotError", "ReportError", "MissingDependency", "ANALYSIS_ERRORS", "first_line", "invalid_token"]
