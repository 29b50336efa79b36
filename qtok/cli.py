"""The ``qtok`` command line: encode, decode, count, verify and report.

Every subcommand reads text from its arguments, from ``--file`` paths or, when
neither is given, from standard input.  User errors print one line starting
with ``qtok <command>: error:`` and exit with status 2; ``verify`` exits with
1 when it finds a difference.
"""
from __future__ import annotations

import argparse
import codecs
import itertools
import json
import os
import re
import sys
from typing import Iterator, Sequence

from . import __version__
from .normalize import to_nfc
from .registry import get_encoding, list_encoding_names


class UserError(Exception):
    """A problem with what the user asked for: reported in one line, exit 2."""


# -- input helpers ---------------------------------------------------------------

def _read_text_file(path: str) -> str:
    return "".join(_file_chunks(path))


#: Files are read and encoded this many characters at a time, so that a file
#: of any size takes bounded memory.
CHUNK_CHARS = 1 << 22


def _input_chunks(args) -> Iterator[Iterator[str]]:
    """Per input (the arguments, each --file, or stdin): its text in pieces
    that encode on their own exactly as the whole does (see _safe_chunks)."""
    if args.text and args.file:
        raise UserError("give text as arguments or with --file, not both")
    if args.text:
        yield iter([" ".join(args.text)])
        return
    if args.file:
        for path in args.file:
            yield _safe_chunks(_file_chunks(path))
        return
    if sys.stdin.isatty():
        raise UserError("no input: give text as arguments, --file PATH, or pipe it on stdin")
    yield _safe_chunks(iter(lambda: sys.stdin.read(CHUNK_CHARS), ""))


def _file_chunks(path: str) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            while True:
                chunk = f.read(CHUNK_CHARS)
                if not chunk:
                    return
                yield chunk
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory; give a file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start} of a chunk); convert it "
                        f"first") from None


#: A line break followed by an ASCII letter: no piece of the pattern spans it
#: (a letter run's one-character prefix is never a line break, and a run of
#: whitespace ends before a letter), NFC composes nothing across it, and no
#: special token contains it.  Text cut there encodes as the whole does.
_CUT = re.compile(r"\n(?=[A-Za-z])")


def _safe_chunks(chunks: Iterator[str]) -> Iterator[str]:
    """The text of chunks, re-cut at the last safe place of each (a text with
    no safe place is carried on whole into the next)."""
    carry = ""
    for chunk in chunks:
        text = carry + chunk
        cut = None
        for cut in _CUT.finditer(text, max(0, len(carry) - 1)):
            pass
        if cut is None:
            carry = text
            continue
        yield text[:cut.end()]
        carry = text[cut.end():]
    if carry:
        yield carry


def _encoding(args):
    try:
        return get_encoding(args.encoding, normalization=None if args.no_nfc else "NFC")
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _special_options(args, enc) -> dict:
    """encode's and count's special-token arguments from --allowed-special and
    --plain, the same for both subcommands (and the defaults the Python API has)."""
    value = args.allowed_special
    if args.plain:
        if value != "none":
            raise UserError("--plain encodes special-token text as plain text; it cannot be "
                            "combined with --allowed-special")
        return {"disallowed_special": ()}
    if value == "all":
        return {"allowed_special": "all"}
    if value == "none":
        return {}
    allowed = {s for s in value.split(",") if s}
    unknown = sorted(allowed - enc.special_tokens_set)
    if unknown:
        raise UserError(f"--allowed-special: {', '.join(unknown)} is not a special token of "
                        f"{enc.name} (it has {len(enc.special_tokens_set)}, e.g. "
                        f"{', '.join(sorted(enc.special_tokens_set)[:3])})")
    return {"allowed_special": allowed}


def _encoded(enc, method, text: str, options: dict):
    """method(text, **options), with a disallowed special token as a user error."""
    try:
        return method(text, **options)
    except ValueError:
        found = sorted((text.find(s), s) for s in enc.special_tokens_set if s in text)
        raise UserError(f"the text contains the special token {found[0][1] if found else '?'}; "
                        "pass --allowed-special all to read it as one, or --plain to read it "
                        "as text") from None


# -- subcommands -------------------------------------------------------------------

def cmd_encode(args) -> int:
    enc = _encoding(args)
    options = _special_options(args, enc)
    out = sys.stdout
    for chunks in _input_chunks(args):
        # Each input's ids on one line (a JSON list with --json), written as
        # each chunk is encoded, so memory stays bounded however long it is.
        sep = ""
        out.write("[" if args.json else "")
        for text in chunks:
            ids = _encoded(enc, enc.encode, text, options)
            if ids:
                out.write(sep + (", " if args.json else " ").join(map(str, ids)))
                sep = ", " if args.json else " "
        out.write("]\n" if args.json else "\n")
    return 0


def _parse_ids(raw: str, as_json: bool) -> list[int]:
    raw = raw.strip()
    if as_json or raw.startswith("["):
        try:
            ids = json.loads(raw)
        except json.JSONDecodeError as e:
            raise UserError(f"input is not valid JSON ({e.msg} at position {e.pos})") from None
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                for i in ids):
            raise UserError("JSON input must be a list of integer token ids")
        return ids
    ids = []
    for word in raw.replace(",", " ").split():
        try:
            ids.append(int(word))
        except ValueError:
            raise UserError(f"not a token id: {word!r}") from None
    return ids


def cmd_decode(args) -> int:
    enc = _encoding(args)
    if args.ids:
        sources = [iter([" ".join(args.ids)])]
    elif args.file:
        sources = [_file_chunks(path) for path in args.file]
    else:
        if sys.stdin.isatty():
            raise UserError("no input: give token ids as arguments, --file PATH, or pipe them on stdin")
        sources = [iter(lambda: sys.stdin.read(CHUNK_CHARS), "")]
    out = sys.stdout
    for chunks in sources:
        # The text comes out as it is decoded (a character split between two
        # chunks of ids waits in the incremental decoder), in bounded memory.
        utf8 = codecs.getincrementaldecoder("utf-8")(args.errors)
        for ids in _id_chunks(chunks, args.json):
            try:
                data = enc.decode_bytes(ids)
            except (ValueError, KeyError, TypeError, OverflowError) as e:
                raise UserError(str(e)) from None
            out.write(_utf8(utf8, data, False))
        out.write(_utf8(utf8, b"", True))   # exactly what was decoded: no newline added
    return 0


def _utf8(decoder, data: bytes, final: bool) -> str:
    try:
        return decoder.decode(data, final)
    except UnicodeDecodeError as e:
        raise UserError(f"the ids decode to bytes that are not UTF-8; pass --errors replace "
                        f"or --errors ignore ({e.reason})") from None


def _id_chunks(chunks: Iterator[str], as_json: bool) -> Iterator[list[int]]:
    """The ids of the text in chunks: a JSON list (read whole), or ids
    separated by spaces or commas (read a chunk at a time)."""
    first = next(chunks, "")
    if as_json or first.lstrip().startswith("["):
        yield _parse_ids(first + "".join(chunks), True)
        return
    carry = ""
    for chunk in itertools.chain([first], chunks):
        text = carry + chunk
        end = max(text.rfind(" "), text.rfind(","), text.rfind("\n"), text.rfind("\t"))
        if end < 0:
            carry = text
            continue
        carry = text[end + 1:]
        yield _parse_ids(text[:end + 1], False)
    if carry.strip():
        yield _parse_ids(carry, False)


def _table_count(enc, path: str, options: dict, text_column: str | None,
                 num_threads: int | None) -> int:
    """The tokens of a Parquet / JSON-lines file's text column, read and
    counted as Arrow batches (no str per row); null rows count 0."""
    from .arrow import text_batches
    from .errors import MissingDependency
    total = rows = 0
    try:
        for column in text_batches(path, text_column):
            try:
                counts = enc.count_arrow(column, num_threads=num_threads, **options)
            except ValueError as e:
                # "row N of the column: ..." -> the row's number in the file
                msg = re.sub(r"^row (\d+) of the column",
                             lambda m: f"row {int(m.group(1)) + rows}", str(e).splitlines()[0])
                if "special token" in msg:
                    msg += (" Pass --allowed-special all to read it as one, or --plain to read "
                            "it as text.")
                raise UserError(f"{path}: {msg}") from None
            except TypeError as e:
                raise UserError(f"{path}: {e}") from None
            total += int(counts.sum().as_py() or 0)
            rows += len(column)
    except MissingDependency as e:
        raise UserError(f"{path}: {e}") from None
    except ValueError as e:
        raise UserError(str(e)) from None
    return total


def _is_table(path: str) -> bool:
    from .arrow import TABLE_SUFFIXES
    return os.path.splitext(path)[1].lower() in TABLE_SUFFIXES


def cmd_count(args) -> int:
    enc = _encoding(args)
    options = _special_options(args, enc)
    if args.text_column is not None and not any(map(_is_table, args.file or [])):
        raise UserError("--text-column reads a column of .parquet / .jsonl files; give one "
                        "with --file")
    if args.file and not args.text:
        counts = [_table_count(enc, path, options, args.text_column, args.threads)
                  if _is_table(path)
                  else sum(_encoded(enc, enc.count, text, options)
                           for text in _safe_chunks(_file_chunks(path)))
                  for path in args.file]
    else:
        counts = [sum(_encoded(enc, enc.count, text, options) for text in chunks)
                  for chunks in _input_chunks(args)]
    if args.json:
        names = args.file if args.file else ["-"]
        print(json.dumps({"total": sum(counts),
                          "files": [{"path": n, "tokens": c} for n, c in zip(names, counts)]}))
    elif args.file and len(args.file) > 1:
        for path, n in zip(args.file, counts):
            print(f"{n}\t{path}")
        print(f"{sum(counts)}\ttotal")
    else:
        print(counts[0])
    return 0


def _verify_files(paths: Sequence[str]) -> Iterator[str]:
    """Every text file under the given files and folders, sorted."""
    for path in paths:
        if os.path.isdir(path):
            found = False
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith((".txt", ".xml", ".md", ".tsv", ".jsonl", ".json", ".csv")):
                        found = True
                        yield os.path.join(root, name)
            if not found:
                raise UserError(f"{path} holds no text files (.txt, .xml, .md, .tsv, .json, .jsonl, .csv)")
        elif os.path.exists(path):
            yield path
        else:
            raise UserError(f"no such file or folder: {path}")


def _bundled_corpus_dir() -> str:
    from .analysis.languages import bundled_dir
    from .errors import LanguageError
    try:
        return str(bundled_dir())
    except LanguageError as exc:
        raise UserError(f"{exc}; or give paths to verify") from None


def cmd_verify(args) -> int:
    try:
        import tiktoken
    except ImportError:
        raise UserError("verify compares with tiktoken, which is not installed: "
                        "pip install 'qtok[test]' (or pip install tiktoken)") from None
    names = list_encoding_names() if args.encoding == "all" else [args.encoding]
    encodings = [_named_encoding(name) for name in names]
    paths = list(_verify_files(args.paths or [_bundled_corpus_dir()]))
    strings = tokens = differed = 0
    for enc in encodings:
        reference = tiktoken.Encoding(
            name="qtok-verify-reference", pat_str=enc._pat_str,
            mergeable_ranks=enc._mergeable_ranks, special_tokens=dict(enc._special_tokens))
        for path in paths:
            text = to_nfc(_read_text_file(path))
            # The whole file, then every line on its own (line breaks change pieces).
            pieces = [text] + ([line for line in text.splitlines() if line]
                               if not args.files_only else [])
            counts = _compare(path, pieces, reference.encode_ordinary_batch(pieces),
                              enc.encode_ordinary_batch(pieces))
            # And the lines in a chat between the encoding's added tokens.
            chats = _chats(pieces[1:] or pieces, sorted(enc.special_tokens_set))
            counts2 = _compare(path, chats, [reference.encode(c, allowed_special="all") for c in chats],
                               enc.encode_batch(chats, allowed_special="all"))
            strings += counts[0] + counts2[0]
            tokens += counts[1] + counts2[1]
            differed += counts[2] + counts2[2]
            if args.verbose:
                print(f"{enc.name} {path}: {len(pieces) + len(chats)} strings, "
                      f"{counts[2] + counts2[2]} differ")
    print(f"verified {len(paths)} file{'s' if len(paths) != 1 else ''} with {', '.join(names)}: {strings} strings, {tokens} "
          f"tokens compared with tiktoken {tiktoken.__version__}; {differed} differed")
    return 1 if differed else 0


def _named_encoding(name: str):
    try:
        return get_encoding(name)
    except ValueError as exc:
        raise UserError(f"{exc}, or all") from None


def _chats(lines: list[str], added: list[str]) -> list[str]:
    """Each line as a chat turn, between added tokens of the encoding (every
    added token appears in some turn)."""
    if not added:
        return []
    out = []
    for k, line in enumerate(lines):
        a, b = added[k % len(added)], added[(k * 7 + 3) % len(added)]
        out.append(f"{a}user\n{line}{b}\n{a}{b}")
    return out


def _compare(path, pieces, expected, got) -> tuple[int, int, int]:
    """(strings, tokens, how many differ) of one comparison, printing the first few."""
    diffs = 0
    tokens = 0
    for piece, want, have in zip(pieces, expected, got):
        tokens += len(want)
        if want != have:
            diffs += 1
            if diffs <= 3:
                at = next((i for i, (a, b) in enumerate(zip(want, have)) if a != b),
                          min(len(want), len(have)))
                print(f"DIFF {path}: {piece[:60]!r}... first difference at token {at}",
                      file=sys.stderr)
    return len(pieces), tokens, diffs


# -- parser ------------------------------------------------------------------------------

def _add_special_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allowed-special", default="none",
                   help="special tokens to read as such: 'all', 'none' (default: text that "
                        "spells one is an error) or a comma-separated list")
    p.add_argument("--plain", action="store_true",
                   help="read special-token text such as <|endoftext|> as ordinary text")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoding", default="qwen",
                   help="encoding name: qwen1, qwen2 (alias qwen), qwen2.5, qwen3 (default: qwen)")
    p.add_argument("--no-nfc", action="store_true",
                   help="do not normalize text to NFC first (Qwen's tokenizer does)")


def build_parser() -> argparse.ArgumentParser:
    from .analysis import report    # the report subcommand, and positive_int for --threads
    parser = argparse.ArgumentParser(
        prog="qtok", description="Fast, exact tokenizer for the Qwen vocabulary, and a "
                                 "compression analyser for many languages.")
    parser.add_argument("--version", action="version", version=f"qtok {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("encode", help="text -> token ids",
                       description="Encode text to token ids (space-separated, or --json).")
    p.add_argument("text", nargs="*", help="text to encode (default: --file or stdin)")
    p.add_argument("-f", "--file", action="append", help="read text from this file (repeatable)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    _add_special_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="token ids -> text",
                       description="Decode token ids (space/comma separated or a JSON list).")
    p.add_argument("ids", nargs="*", help="token ids (default: --file or stdin)")
    p.add_argument("-f", "--file", action="append", help="read ids from this file (repeatable)")
    p.add_argument("--json", action="store_true", help="input is a JSON list")
    p.add_argument("--errors", default="replace", choices=["replace", "strict", "ignore"],
                   help="what to do with bytes that are not UTF-8 (default: replace)")
    _add_common(p)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("count", help="count tokens",
                       description="Count tokens, with the same special-token rules as "
                                   "encode: text that spells a special token is an error unless "
                                   "--allowed-special or --plain says how to read it. "
                                   "A .parquet or .jsonl file counts its text column, read "
                                   "as Arrow batches (needs pyarrow); null rows count 0.")
    p.add_argument("text", nargs="*", help="text to count (default: --file or stdin)")
    p.add_argument("-f", "--file", action="append", help="count this file (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--text-column", metavar="NAME",
                   help="the text column of .parquet / .jsonl files (default: the first of "
                        "text, sentence, content, document)")
    p.add_argument("--threads", type=report.positive_int, metavar="N",
                   help="native threads for .parquet / .jsonl files (default: all cores)")
    _add_special_options(p)
    _add_common(p)
    p.set_defaults(func=cmd_count)

    p = sub.add_parser("verify", help="compare ids with tiktoken on files",
                       description="Encode files (default: the bundled corpus) with qtok and with "
                                   "tiktoken loaded with the same vocabulary; every whole file and "
                                   "every line is compared. Exit 1 if any differ.")
    p.add_argument("paths", nargs="*", help="files or folders (default: the bundled corpus)")
    p.add_argument("--files-only", action="store_true", help="compare whole files, not each line")
    p.add_argument("-v", "--verbose", action="store_true", help="a line per file")
    p.add_argument("--encoding", default="qwen",
                   help="encoding name, or all (default: qwen); the lines are also checked "
                        "inside chats of the encoding's added tokens")
    p.set_defaults(func=cmd_verify)

    report.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)    # the page of `report -o x.html` shows it
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except UserError as e:
        print(f"qtok {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:         # `qtok encode ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
