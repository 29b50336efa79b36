"""The report's output formats: ``table`` (aligned text), ``markdown``, ``csv``
and ``json`` (``{"corpus": <name>, "results": [<row>, ...]}``, the rows
documented in ``qtok.analysis.api``), for the per-language rows and for the
``--vocab`` rows.
"""
from __future__ import annotations

# Imported by `qtok report` before any work: no numpy at the top.
import csv
import io
import json
from typing import Callable, Sequence

from .backends import QWEN_LABEL

__all__ = ["FORMATS", "METRICS", "DEFAULT_METRICS", "parse_metrics", "format_rows",
           "format_vocabulary", "column_header", "column_formatter"]

FORMATS = ("table", "markdown", "csv", "json", "html")   # html: qtok.analysis.html
#: Digits after the point in csv/json (enough for shares like 0.000866).
_PRECISION = 6


def _int(v) -> str:
    return "-" if v is None else str(v)


def _fixed(digits: int) -> Callable:
    return lambda v: "-" if v is None else f"{v:.{digits}f}"


def _percent(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


#: Long layout of table and markdown: (field, header, formatter).
_TEXT_COLUMNS = (
    ("tokenizer", "tokenizer", str), ("code", "code", str), ("name", "language", str),
    ("documents", "docs", _int), ("bytes", "bytes", _int), ("chars", "chars", _int),
    ("words", "words", _int), ("tokens", "tokens", _int),
    ("bytes_per_token", "bytes/tok", _fixed(2)), ("chars_per_token", "chars/tok", _fixed(2)),
    ("tokens_per_word", "tok/word", _fixed(2)), ("parity", "parity", _fixed(2)),
    ("pair_premium", "pair prem", _fixed(2)), ("fragment_share", "frags", _percent), ("qwen_ratio", "qwen/this", _fixed(2)),
    ("continued_words", "continued", _int), ("continued_share", "cont %", _percent),
    ("byte_premium", "byte prem", _fixed(2)), ("vocab_size", "|V|", _int),
    ("distinct_ids", "ids used", _int), ("vocab_use", "vocab use", _fixed(4)),
    ("script_vocab_use", "script vocab use", _fixed(4)),
    ("renyi_efficiency", "renyi eff", _fixed(3)), ("shannon_efficiency", "shannon eff", _fixed(3)),
    ("bits_per_byte", "bits/byte", _fixed(2)),
    ("deflate_bits_per_byte", "deflate bits/byte", _fixed(2)),
)
_IDENTITY = ("tokenizer", "code", "name")
#: The metrics of the terminal and Markdown tables unless --metrics names
#: others: what fits in 100 columns next to the language's name.
DEFAULT_METRICS = ("tokens", "bytes_per_token", "tokens_per_word", "parity", "fragment_share",
                   "qwen_ratio")
#: Every metric --metrics may name, in table order.
METRICS = tuple(c[0] for c in _TEXT_COLUMNS if c[0] not in _IDENTITY)
_NUMERIC = set(METRICS)


def column_header(field: str) -> str:
    """The short heading of a field in the tables."""
    return next(h for f, h, _ in _TEXT_COLUMNS if f == field)


def column_formatter(field: str) -> Callable:
    """How the tables print a field's value."""
    return next(fn for f, _, fn in _TEXT_COLUMNS if f == field)


def parse_metrics(text: str | None) -> tuple[str, ...] | None:
    """--metrics a,b,c -> the field names (ValueError naming the choices for
    an unknown one); "all" for every metric; None for the default."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return METRICS
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ValueError(f"--metrics: unknown {', '.join(unknown) or 'empty list'}; choose from "
                         f"{', '.join(METRICS)} (or all)")
    return tuple(names)


def _round(value):
    return round(value, _PRECISION) if isinstance(value, float) else value


def format_rows(rows: Sequence[dict], fmt: str, *, corpus: str, layout: str = "long",
                metrics: Sequence[str] | None = None) -> str:
    """The report in one of ``FORMATS``; ``metrics`` picks the columns of
    table and markdown (csv and json always have every field)."""
    from .metrics import FIELDS   # here: qtok.analysis.metrics imports numpy
    if fmt == "json":
        doc = {"corpus": corpus, "results": [{k: _round(r[k]) for k in FIELDS} for r in rows]}
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    tokenizers = list(dict.fromkeys(r["tokenizer"] for r in rows))
    if layout == "wide":
        header, body, numeric = _wide(rows, tokenizers, machine=fmt == "csv",
                                      metrics=None if fmt == "csv" else metrics)
    else:
        chosen = set(_IDENTITY) | set(metrics if metrics is not None else DEFAULT_METRICS)
        columns = [c for c in _TEXT_COLUMNS if c[0] in chosen
                   and (c[0] != "qwen_ratio" or len(tokenizers) > 1 or metrics is not None)]
        if fmt == "csv":
            header = list(FIELDS)
            body = [[_round(r[k]) for k in FIELDS] for r in rows]
        else:
            header = [h for _, h, _ in columns]
            body = [[fn(r[k]) for k, _, fn in columns] for r in rows]
        numeric = [k in _NUMERIC for k in (FIELDS if fmt == "csv" else [c[0] for c in columns])]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in body])
        return buf.getvalue()
    if fmt == "markdown":
        return _markdown(header, body, numeric)
    title = f"corpus: {corpus}; tokenizers: {', '.join(tokenizers)}"
    if not any(r["parity"] is not None for r in rows):
        title += "; parity: - (not a parallel corpus)"
    return title + "\n\n" + _aligned(header, body, numeric)


def _wide(rows: Sequence[dict], tokenizers: list[str], machine: bool,
          metrics: Sequence[str] | None = None):
    """One row per language; each metric once per tokenizer, side by side."""
    if metrics is not None:
        metrics = [c for c in _TEXT_COLUMNS if c[0] in metrics and c[0] != "qwen_ratio"]
    else:
        metrics = [("tokens", "tokens", _int), ("bytes_per_token", "bytes/tok", _fixed(2)),
                   ("parity", "parity", _fixed(2)), ("fragment_share", "fragments", _percent)]
    if not any(r["parity"] is not None for r in rows):
        metrics = [m for m in metrics if m[0] != "parity"]
    by_lang: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_lang.setdefault(r["code"], {})[r["tokenizer"]] = r
    others = [t for t in tokenizers if t != QWEN_LABEL] if QWEN_LABEL in tokenizers else []
    if machine:
        header = ["code", "name", "documents", "bytes"]
        header += [f"{field}_{t}" for field, _, _ in metrics for t in tokenizers]
        header += [f"qwen_ratio_{t}" for t in others]
    else:
        header = ["code", "language", "bytes"]
        header += [f"{t} {label}" for _, label, _ in metrics for t in tokenizers]
        header += [f"qwen/{t}" for t in others]
    body = []
    for code, per_tok in by_lang.items():
        first = next(iter(per_tok.values()))
        if machine:
            row = [code, first["name"], first["documents"], first["bytes"]]
            row += [_round(per_tok.get(t, {}).get(field)) for field, _, _ in metrics for t in tokenizers]
            row += [_round(per_tok.get(t, {}).get("qwen_ratio")) for t in others]
        else:
            row = [code, first["name"], str(first["bytes"])]
            row += [fn(per_tok.get(t, {}).get(field)) for field, _, fn in metrics for t in tokenizers]
            row += [_fixed(2)(per_tok.get(t, {}).get("qwen_ratio")) for t in others]
        body.append(row)
    numeric = [i >= 2 for i in range(len(header))]
    return header, body, numeric


def _aligned(header: list[str], body: list[list], numeric: list[bool]) -> str:
    cells = [header] + [[str(v) for v in row] for row in body]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(row, widths, numeric)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]]) + "\n"


def _markdown(header: list[str], body: list[list], numeric: list[bool]) -> str:
    def esc(v) -> str:
        return str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def format_vocabulary(rows: Sequence[dict], fmt: str) -> str:
    """The ``--vocab`` report (rows from ``qtok.metrics.vocabulary_scripts``)."""
    if fmt == "json":
        return json.dumps({"vocabulary": [{**r, "share": _round(r["share"])} for r in rows]},
                          ensure_ascii=False, indent=2) + "\n"
    header = ["tokenizer", "script", "tokens", "share", "languages"]
    numeric = [False, False, True, True, False]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[r["tokenizer"], r["script"], r["tokens"], _round(r["share"]),
                           " ".join(r["languages"])] for r in rows])
        return buf.getvalue()
    body = [[r["tokenizer"], r["script"], str(r["tokens"]), _percent(r["share"]),
             ", ".join(r["languages"]) or "-"] for r in rows]
    return (_markdown if fmt == "markdown" else _aligned)(header, body, numeric)
