"""NFC normalization as Hugging Face ``tokenizers`` does it, on every Python.

``to_nfc(text)`` returns text itself when ``is_nfc`` (a one-sided native
check) knows it to be NFC, as nearly all text is, and otherwise normalizes it
natively.  Both read one table, generated from ``tokenizers`` and checked in
(tools/gen_nfc_table.py): Unicode ``UNICODE_VERSION`` (9.0), whatever
version this Python's ``unicodedata`` has.  ``nfd``, ``combining`` and
``composite`` expose the same table for code that replays normalization
(qtok.offsets).
"""
from __future__ import annotations

# The check and to_nfc itself are native: encoders call to_nfc on every text.
from ._nfc import UNICODE_VERSION, combining, composite, is_nfc, nfd, to_nfc

__all__ = ["UNICODE_VERSION", "combining", "composite", "is_nfc", "nfd", "to_nfc"]
