"""NFC normalization, fast when the text is NFC already -- as nearly all is.

``unicodedata.normalize("NFC", text)`` is exact but, on Bengali, Devanagari or
Arabic-script text, rebuilds the string at 13-18 MB/s even when nothing
changes.  ``to_nfc`` first asks qtok._nfc.is_nfc, a one-sided native check
(True only when the text is certainly NFC), and calls unicodedata only when
the answer is not known.  The check's table is made at build time from this
Python's unicodedata; should the versions ever differ, it is not used.
"""
from __future__ import annotations

# The check and to_nfc itself are native: encoders call to_nfc on every text.
from ._nfc import NATIVE_CHECK, UNIDATA_VERSION, is_nfc, to_nfc

__all__ = ["NATIVE_CHECK", "UNIDATA_VERSION", "is_nfc", "to_nfc"]
