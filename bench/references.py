"""Shared ground for every benchmark: the data, and the reference encoders.

Both the pytest-benchmark suites (``bench/test_*.py``) and ``bench/compare.py``
import this module, so the text they time and the references they compare
against are the same by construction.

* Data: the Leipzig sentences of the test corpora (``$QTOK_TEST_CORPORA/leipzig``,
  by default ``../shared/corpora/leipzig``), NFC-normalized once here so that encoders without a
  normalizer (tiktoken, qtok with ``normalization=None``) see exactly the text
  that Qwen's NFC step would hand them.  When that folder is absent we fall
  back to the project's bundled ``corpora/*.txt``; when both are absent the
  callers skip.
* Pathological inputs: 1M-character strings built to hit the worst cases of a
  regex pre-tokenizer and of BPE merging (one giant piece, millions of tiny
  pieces, long whitespace runs that need the ``\\s+(?!\\S)`` look-ahead).
* References built from ``qtok/qwen.tiktoken`` itself, never downloaded:
  tiktoken (the exactness oracle) and Hugging Face ``tokenizers`` laid out as
  Qwen2's tokenizer.json is (NFC, Split isolated, ByteLevel, BPE with
  ignore_merges).
"""
from __future__ import annotations

import base64
import hashlib
import os
import random
import string
import tempfile
import unicodedata
from array import array
from pathlib import Path
from typing import Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
VOCAB_PATH = ROOT / "qtok" / "qwen.tiktoken"
#: The Leipzig sentences of the test corpora ($QTOK_TEST_CORPORA, else ../shared/corpora).
SHARED_CORPUS = Path(os.environ.get("QTOK_TEST_CORPORA") or ROOT.parent / "shared" / "corpora") / "leipzig"
BUNDLED_CORPUS = ROOT / "corpora"

#: Size of each pathological input, in characters (not bytes: the CJK one is 3 MB).
PATHOLOGICAL_CHARS = 1_000_000

#: Documents per batch are this many consecutive lines of one file: about 9 KB,
#: a realistic document size that keeps per-item overhead from dominating.
LINES_PER_BATCH_DOC = 64


# -- the corpus ---------------------------------------------------------------------

def corpus_dir() -> Path | None:
    """The folder of ``*.txt`` files to benchmark on, or None when there is none.

    ``QTOK_BENCH_CORPUS=/some/folder`` benchmarks other text instead (a folder
    without ``*.txt`` files means no corpus: how the skips are tested)."""
    override = os.environ.get("QTOK_BENCH_CORPUS")
    candidates = [Path(override)] if override else [SHARED_CORPUS, BUNDLED_CORPUS]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.txt")):
            return folder
    return None


def load_corpus(max_lines_per_file: int | None = None) -> dict[str, str]:
    """``{file stem: NFC text}`` for every corpus file, sorted by name.

    ``max_lines_per_file`` keeps only the first lines of each file (for quick
    runs).  Returns an empty dict when no corpus exists, so callers can skip.
    """
    folder = corpus_dir()
    if folder is None:
        return {}
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if max_lines_per_file is not None:
            text = "".join(text.splitlines(keepends=True)[:max_lines_per_file])
        # NFC here, once, so no encoder is charged for it unless it insists.
        texts[path.stem] = unicodedata.normalize("NFC", text)
    return texts


def corpus_lines(texts: dict[str, str]) -> list[str]:
    """Every line of every file, each keeping its newline, so the line-by-line
    runs process exactly the same bytes as the whole-file runs."""
    return [line for text in texts.values() for line in text.splitlines(keepends=True)]


def batch_documents(texts: dict[str, str], lines_per_doc: int = LINES_PER_BATCH_DOC) -> list[str]:
    """The corpus cut into documents of ``lines_per_doc`` lines (same bytes again)."""
    docs = []
    for text in texts.values():
        lines = text.splitlines(keepends=True)
        docs.extend("".join(lines[i:i + lines_per_doc]) for i in range(0, len(lines), lines_per_doc))
    return docs


def new_str_objects(texts: list[str]) -> list[str]:
    """Equal texts as new str objects, as a pipeline hands them over: CPython
    makes a str's UTF-8 the first time it is asked and keeps it in the str, so
    only new objects make an encoder pay for it again."""
    return [(t + "x")[:-1] for t in texts]


def utf8_len(texts: str | Iterable[str]) -> int:
    """Bytes of UTF-8: the unit of every MB/s figure (1 MB = 10**6 bytes)."""
    if isinstance(texts, str):
        return len(texts.encode("utf-8"))
    return sum(len(t.encode("utf-8")) for t in texts)


# -- pathological inputs ---------------------------------------------------------------

def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _seeded_choice(alphabet: str, n: int, seed: int) -> str:
    # Seeded so every run, and every encoder, sees the very same string.
    rng = random.Random(seed)
    return "".join(rng.choices(alphabet, k=n))


def _base64_text(n: int) -> str:
    rng = random.Random(64)
    raw = bytes(rng.getrandbits(8) for _ in range(n * 3 // 4 + 3))
    return base64.b64encode(raw).decode("ascii")[:n]


#: name -> builder(n characters).  Each one aims at a different weak spot:
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    # one piece of n letters: naive BPE merging is quadratic on it
    "letter": lambda n: "a" * n,
    # one whitespace run: the \s+(?!\S) look-ahead; tiktoken overflows its stack
    "spaces": lambda n: " " * n,
    # n one-character pieces (\p{N} takes digits one at a time)
    "digits": lambda n: _seeded_choice(string.digits, n, seed=10),
    # \s*[\r\n]+ : one giant piece of newlines
    "newlines": lambda n: "\n" * n,
    # one piece of 3n bytes in a 3-byte script
    "cjk": lambda n: "\u4e2d" * n,
    # ` ?[^\s\p{L}\p{N}]+` : one giant piece of mixed ASCII punctuation
    "punctuation": lambda n: _seeded_choice(string.punctuation, n, seed=33),
    # letters, digits, + and / in random order: many short pieces of all kinds
    "base64": _base64_text,
    # \s*[\r\n]+ over a run that mixes CR, LF and spaces
    "crlf_spaces": lambda n: _repeat("\r\n  ", n),
    # runs of 10,000 tabs, each ended by a letter: long \s+(?!\S) runs
    "tab_runs": lambda n: _repeat("\t" * 9_999 + "x", n),
}


def pathological_input(name: str, n: int = PATHOLOGICAL_CHARS) -> str:
    return PATHOLOGICAL[name](n)


# -- reference encoders ------------------------------------------------------------------

def qwen_pattern_and_specials() -> tuple[str, dict[str, int]]:
    """Pattern and special tokens, from qtok so the references can't drift from it."""
    import qtok
    return qtok.QWEN_PATTERN, dict(qtok.QWEN_SPECIAL_TOKENS)


def load_ranks(path: Path = VOCAB_PATH) -> dict[bytes, int]:
    """``{token bytes: rank}`` from a tiktoken file, parsed by tiktoken itself."""
    from tiktoken.load import load_tiktoken_bpe
    return load_tiktoken_bpe(os.fspath(path))


def tiktoken_reference(ranks: dict[bytes, int] | None = None):
    """tiktoken loaded with qtok's vocabulary and pattern: the exactness oracle."""
    import tiktoken
    pattern, specials = qwen_pattern_and_specials()
    return tiktoken.Encoding(name="qwen-bench", pat_str=pattern,
                             mergeable_ranks=ranks if ranks is not None else load_ranks(),
                             special_tokens=specials)


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet (byte -> printable character), as HF spells tokens."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
                 + list(range(0xAE, 0xFF + 1)))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """HF vocab and merges that reproduce tiktoken's merge order.

    tiktoken merges the adjacent pair whose concatenation has the lowest rank.
    So every split ``left + right`` of a token where both halves are tokens is
    a merge, ordered by the merged token's rank (ties, the same token reached
    from different splits, by the halves' ranks).
    """
    b2u = _byte_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(b2u[b] for b in token)

    vocab = {spell(token): rank for token, rank in ranks.items()}
    merges: list[tuple[str, str]] = []
    for token, _rank in sorted(ranks.items(), key=lambda item: item[1]):
        splits = []
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                splits.append((ranks[left], ranks[right], left, right))
        splits.sort()
        merges.extend((spell(left), spell(right)) for _, _, left, right in splits)
    return vocab, merges


def build_hf_tokenizer(ranks: dict[bytes, int] | None = None):
    """A ``tokenizers.Tokenizer`` in Qwen2's layout, built from the ranks (slow: seconds)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    pattern, specials = qwen_pattern_and_specials()
    vocab, merges = _vocab_and_merges(ranks if ranks is not None else load_ranks())
    # ignore_merges: a piece that is itself a token is emitted whole, as in tiktoken.
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False)
                            for s in sorted(specials, key=specials.get)])
    for s, i in specials.items():
        assert tok.token_to_id(s) == i, f"{s} got id {tok.token_to_id(s)}, expected {i}"
    return tok


def hf_cache_path() -> Path:
    """Where the built tokenizer.json is kept between runs: outside the project,
    keyed by the vocabulary's and this file's contents so edits rebuild it."""
    key = hashlib.sha256(VOCAB_PATH.read_bytes() + Path(__file__).read_bytes()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "qtok-bench" / f"qwen-hf-{key}.json"


def hf_reference():
    """The HF reference, from the cached tokenizer.json when there is one (about
    1.5 s instead of 4-5 s to build); builds and caches it otherwise."""
    from tokenizers import Tokenizer
    path = hf_cache_path()
    if path.is_file():
        try:
            return Tokenizer.from_file(os.fspath(path))
        except Exception:       # a damaged cache (e.g. a killed writer): rebuild
            pass
    tok = build_hf_tokenizer()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("qwen-hf-*.json"):
        stale.unlink(missing_ok=True)       # older vocabularies or recipes
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tok.save(os.fspath(tmp))
    os.replace(tmp, path)       # atomic: concurrent runs never read half a file
    return tok


# -- comparing outputs -----------------------------------------------------------------

def digest(ids: Sequence[int] | Iterable[Sequence[int]], nested: bool = False) -> str:
    """A short fingerprint of a token sequence (or of a list of them, lengths
    included so ids can't move between sequences unnoticed), so child processes
    can report what they produced without shipping the ids.  Lists and numpy
    arrays of the same ids give the same digest."""
    h = hashlib.sha256()
    for seq in (ids if nested else [ids]):
        data = seq.astype("uint32").tobytes() if hasattr(seq, "astype") else array("I", seq).tobytes()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:16]
