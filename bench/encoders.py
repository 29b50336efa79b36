"""Every encoder the benchmarks know, behind one small interface.

Each ``Adapter`` loads one tokenizer with the Qwen vocabulary and exposes the
operations the benchmarks time, all returning plain Python objects so that
timing includes what a Python user pays to get a list of ids.  Operations an
encoder has no API for are ``None`` and the benchmarks leave them out.

Peers that are not installed, or that cannot load this vocabulary, raise
``Unavailable`` from ``load()`` with the reason, which the reports print.
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import references as ref


class Unavailable(Exception):
    """This encoder can't be benchmarked here (not installed / can't load the vocab)."""


@dataclass
class Loaded:
    """The operations of one loaded encoder.  Only ``encode`` is mandatory."""
    encode: Callable[[str], list[int]]
    decode: Callable[[Sequence[int]], str] | None = None
    #: encode many texts on ``threads`` native threads
    batch: Callable[[Sequence[str], int], list[list[int]]] | None = None
    #: the tiktoken-style ``encode`` (with the special-token check) and its numpy twin
    encode_checked: Callable[[str], list[int]] | None = None
    encode_numpy: Callable[[str], Any] | None = None
    count: Callable[[str], int] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Adapter:
    key: str                 # used on command lines and in JSON
    label: str               # column header
    package: str             # distribution name, for the version
    module: str              # top-level module, imported first to time the import alone
    loader: Callable[[], Loaded]
    #: False for peers the issue lists as optional: absent -> a note, not an error
    required: bool = True

    def version(self) -> str:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def load(self) -> Loaded:
        try:
            return self.loader()
        except ImportError as e:
            raise Unavailable(f"{self.package} is not installed ({e})") from None


# -- loaders ---------------------------------------------------------------------

def _tiktoken_shaped(enc, count) -> Loaded:
    """qtok and tiktoken share one API, so one adapter serves both."""
    return Loaded(
        encode=enc.encode_ordinary,
        decode=enc.decode,
        batch=lambda texts, threads: enc.encode_ordinary_batch(texts, num_threads=threads),
        encode_checked=enc.encode,
        encode_numpy=enc.encode_to_numpy,
        count=count,
    )


def _qtok(normalization: str | None) -> Loaded:
    import qtok
    enc = qtok.get_encoding("qwen", normalization=normalization)
    return _tiktoken_shaped(enc, enc.count)


def _tiktoken() -> Loaded:
    enc = ref.tiktoken_reference()
    # tiktoken has no counter: the length of the list is what users do.
    return _tiktoken_shaped(enc, lambda text: len(enc.encode_ordinary(text)))


def _hf() -> Loaded:
    tok = ref.hf_reference()
    return Loaded(
        encode=lambda text: tok.encode(text, add_special_tokens=False).ids,
        decode=lambda ids: tok.decode(ids, skip_special_tokens=False),
        notes=["HF applies its NFC normalizer to the (already NFC) text"],
    )


def _fastokens() -> Loaded:
    import fastokens
    pattern, specials = ref.qwen_pattern_and_specials()
    try:
        tok = fastokens.Tokenizer.from_tiktoken(str(ref.VOCAB_PATH), pattern=pattern,
                                                special_tokens=specials)
    except Exception as e:
        raise Unavailable(f"fastokens cannot load qwen.tiktoken: {e!r}") from None
    return Loaded(
        encode=lambda text: tok.encode_ordinary(text).ids,
        decode=lambda ids: tok.decode(ids),
        notes=["fastokens: Tokenizer.from_tiktoken(qwen.tiktoken)"],
    )


def _riptoken() -> Loaded:
    import riptoken
    pattern, specials = ref.qwen_pattern_and_specials()
    try:
        core = riptoken.CoreBPE(riptoken.load_tiktoken_bpe(str(ref.VOCAB_PATH)), specials, pattern)
    except Exception as e:
        raise Unavailable(f"riptoken cannot load qwen.tiktoken: {e!r}") from None
    return Loaded(
        encode=core.encode_ordinary,
        decode=lambda ids: core.decode_bytes(ids).decode("utf-8", "replace"),
        notes=["riptoken: CoreBPE(load_tiktoken_bpe(qwen.tiktoken))"],
    )


def _quicktok() -> Loaded:
    import quicktok
    try:
        # quicktok loads only its own files; its bundled "qwen3" vocabulary has
        # the same 151,643 regular tokens (checked against tiktoken's output).
        enc = quicktok.get_encoding("qwen3")
    except Exception as e:
        raise Unavailable(f"quicktok has no qwen3 vocabulary: {e!r}") from None
    return Loaded(
        encode=enc.encode_ordinary,
        decode=enc.decode,
        count=enc.count,
        notes=["quicktok-v1: its bundled qwen3 vocabulary, not qwen.tiktoken"],
    )


#: What the pytest suites put side by side: qtok without and with its NFC step,
#: tiktoken (the oracle) and HF tokenizers (the reference Qwen ships).  The
#: optional peers are left to compare.py, which runs each in its own process.
SIDE_BY_SIDE = ["qtok", "qtok_nfc", "tiktoken", "hf"]
#: Those with a native batch API taking a thread count, encode_to_numpy and count.
WITH_BATCH = ["qtok", "qtok_nfc", "tiktoken"]

ADAPTERS: dict[str, Adapter] = {a.key: a for a in [
    Adapter("tiktoken", "tiktoken", "tiktoken", "tiktoken", _tiktoken),
    Adapter("qtok", "qtok", "qtok", "qtok", lambda: _qtok(None)),
    Adapter("qtok_nfc", "qtok (NFC)", "qtok", "qtok", lambda: _qtok("NFC")),
    Adapter("hf", "HF tokenizers", "tokenizers", "tokenizers", _hf),
    Adapter("fastokens", "fastokens", "fastokens", "fastokens", _fastokens, required=False),
    Adapter("riptoken", "riptoken", "riptoken", "riptoken", _riptoken, required=False),
    Adapter("quicktok", "quicktok-v1", "quicktok-v1", "quicktok", _quicktok, required=False),
]}
