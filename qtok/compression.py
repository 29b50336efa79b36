"""The compression report's Python API, under its first name.

``qtok.compression`` is kept so that code written against it keeps working;
the analyser lives in ``qtok.analysis`` (the rows' fields are documented in
``qtok.analysis.api``).
"""
from .analysis.api import FIELDS, compression_report, load_corpora, vocabulary_report

__all__ = ["FIELDS", "compression_report", "vocabulary_report", "load_corpora"]
