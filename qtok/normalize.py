"""NFC normalization, fast when the text is NFC already -- as nearly all is.

``unicodedata.normalize("NFC", text)`` is exact but, on Bengali, Devanagari or
Arabic-script text, rebuilds the string at 13-18 MB/s even when nothing
changes.  ``to_nfc`` first asks qtok._nfc.is_nfc, a one-sided native check
(True only when the text is certainly NFC), and calls unicodedata only when
the answer is not known.  The check's table is made at build time from this
Python's unicodedata; should the versions ever differ, it is not used.
"""
from __future__ import annotations

import unicodedata

from ._nfc import UNIDATA_VERSION, is_nfc

#: Whether the native check describes the Unicode version unicodedata uses.
NATIVE_CHECK = UNIDATA_VERSION == unicodedata.unidata_version


def to_nfc(text: str) -> str:
    """``unicodedata.normalize("NFC", text)``, the same str, sooner."""
    if NATIVE_CHECK and is_nfc(text):
        return text
    return unicodedata.normalize("NFC", text)
