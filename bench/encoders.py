"""Every encoder the benchmarks know, behind one small interface.

Each ``Adapter`` loads one tokenizer with the Qwen vocabulary and exposes the
operations the benchmarks time, all returning plain Python objects so that
timing includes what a Python user pays to get a list of ids.  Operations an
encoder has no API for are ``None`` and the benchmarks leave them out.

Peers that are not installed, or that cannot load this vocabulary, raise
``Unavailable`` from ``load()`` with the reason, which the reports print.
"""
from __future__ import annotations

import compileall
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
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
    #: top-level module, imported first to time the import alone ("": the loader imports)
    module: str
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


def compile_bytecode(modules: list[str]) -> None:
    """Compile the Python files of the packages of these top-level modules to
    bytecode, as pip does when it installs a wheel, so that the import row
    times loading a module and not compiling it.  (An editable install, or a
    machine that sets PYTHONDONTWRITEBYTECODE, would otherwise compile the
    sources afresh in every child process.)  Packages it may not write to are
    left as they are; "" (no module of its own) is skipped."""
    for module in modules:
        spec = importlib.util.find_spec(module) if module else None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if os.access(folder, os.W_OK):
                compileall.compile_dir(folder, quiet=1)


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


def _loaded_or_unavailable(what: str, make: Callable[[], Any]) -> Any:
    """make()'s tokenizer; a peer that fails to load becomes Unavailable with
    ``what`` ("fastokens cannot load qwen.tiktoken") and the error."""
    try:
        return make()
    except Exception as e:
        raise Unavailable(f"{what}: {e!r}") from None


def _fastokens() -> Loaded:
    import fastokens
    pattern, specials = ref.qwen_pattern_and_specials()
    tok = _loaded_or_unavailable(
        "fastokens cannot load qwen.tiktoken",
        lambda: fastokens.Tokenizer.from_tiktoken(str(ref.VOCAB_PATH), pattern=pattern,
                                                  special_tokens=specials))
    return Loaded(
        encode=lambda text: tok.encode_ordinary(text).ids,
        decode=lambda ids: tok.decode(ids),
        notes=["fastokens: Tokenizer.from_tiktoken(qwen.tiktoken)"],
    )


def _riptoken() -> Loaded:
    import riptoken
    pattern, specials = ref.qwen_pattern_and_specials()
    core = _loaded_or_unavailable(
        "riptoken cannot load qwen.tiktoken",
        lambda: riptoken.CoreBPE(riptoken.load_tiktoken_bpe(str(ref.VOCAB_PATH)), specials,
                                 pattern))
    return Loaded(
        encode=core.encode_ordinary,
        decode=lambda ids: core.decode_bytes(ids).decode("utf-8", "replace"),
        notes=["riptoken: CoreBPE(load_tiktoken_bpe(qwen.tiktoken))"],
    )


def _quicktok() -> Loaded:
    import quicktok
    # quicktok loads only its own files; its bundled "qwen3" vocabulary has
    # the same 151,643 regular tokens (checked against tiktoken's output).
    enc = _loaded_or_unavailable(
        "quicktok has no qwen3 vocabulary",
        lambda: quicktok.get_encoding("qwen3"))
    return Loaded(
        encode=enc.encode_ordinary,
        decode=enc.decode,
        count=enc.count,
        notes=["quicktok-v1: its bundled qwen3 vocabulary, not qwen.tiktoken"],
    )


def _hf_json() -> str:
    """The tokenizer.json built from qwen.tiktoken in Qwen2's layout (compare.py
    builds it once before any timed load)."""
    path = ref.hf_cache_path()
    if not path.is_file():
        ref.hf_reference()
    return str(path)


def _gigatoken() -> Loaded:
    import gigatoken
    pattern, specials = ref.qwen_pattern_and_specials()
    # Its from_tiktoken names Qwen's split by "qwen2" (the pattern of Qwen-1 .. Qwen3).
    tok = _loaded_or_unavailable(
        "gigatoken cannot load qwen.tiktoken",
        lambda: gigatoken.Tokenizer.from_tiktoken(str(ref.VOCAB_PATH), pretokenizer="qwen2",
                                                  special_tokens=specials))
    return Loaded(
        encode=lambda text: tok.encode(text).tolist(),
        decode=lambda ids: tok.decode(ids).decode("utf-8", "replace"),
        encode_numpy=tok.encode,
        notes=["gigatoken: Tokenizer.from_tiktoken(qwen.tiktoken, pretokenizer='qwen2'); "
               "encode gives a numpy array, .tolist() for the list rows"],
    )


def _snaptokens() -> Loaded:
    import snaptokens
    tok = _loaded_or_unavailable(
        "snaptokens cannot load the tokenizer.json",
        lambda: snaptokens.Tokenizer.from_file(_hf_json()))
    return Loaded(
        encode=lambda text: tok.encode(text, add_special_tokens=False).ids,
        decode=lambda ids: tok.decode(ids),
        notes=["snaptokens: Tokenizer.from_file(tokenizer.json built from qwen.tiktoken)"],
    )


def _splintr() -> Loaded:
    import splintr
    pattern, specials = ref.qwen_pattern_and_specials()
    tok = _loaded_or_unavailable(
        "splintr cannot load qwen.tiktoken",
        lambda: splintr.Tokenizer(str(ref.VOCAB_PATH), pattern, specials))
    return Loaded(
        encode=tok.encode_ordinary,
        decode=tok.decode,
        notes=["splintr-rs: Tokenizer(qwen.tiktoken, pattern, specials)"],
    )


def _tokie() -> Loaded:
    import tokie
    tok = _loaded_or_unavailable(
        "tokie cannot load the tokenizer.json",
        lambda: tokie.Tokenizer.from_json(_hf_json()))
    return Loaded(
        encode=lambda text: tok.encode(text, add_special_tokens=False).ids,
        decode=tok.decode,
        count=tok.count_tokens,
        notes=["tokie: Tokenizer.from_json(tokenizer.json built from qwen.tiktoken)"],
    )


def _kitoken() -> Loaded:
    import kitoken
    tok = _loaded_or_unavailable(
        "kitoken cannot load the tokenizer.json",
        lambda: kitoken.Kitoken.from_tokenizers_file(_hf_json()))
    return Loaded(
        encode=lambda text: tok.encode(text, False),
        decode=lambda ids: tok.decode(ids, False).decode("utf-8", "replace"),
        notes=["kitoken: Kitoken.from_tokenizers_file(tokenizer.json built from qwen.tiktoken)"],
    )


def _tokendagger() -> Loaded:
    import tokendagger
    pattern, specials = ref.qwen_pattern_and_specials()
    enc = _loaded_or_unavailable(
        "tokendagger cannot load the Qwen ranks",
        lambda: tokendagger.Encoding("qwen", pat_str=pattern, mergeable_ranks=ref.load_ranks(),
                                     special_tokens=specials))
    return Loaded(
        encode=enc.encode_ordinary,
        decode=enc.decode,
        notes=["tokendagger: Encoding(pat_str, mergeable_ranks of qwen.tiktoken)"],
    )


def _bpe_qwen() -> Loaded:
    import glob
    import importlib.machinery
    import importlib.util
    import tempfile
    # bpe_qwen's package __init__ imports transformers for its AutoTokenizer
    # wrapper; the engine, QwenTokenizer(dir with vocab.json and merges.txt), is
    # its compiled module, loaded here on its own.
    spec = importlib.util.find_spec("bpe_qwen")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'bpe_qwen'")
    found = glob.glob(str(Path(list(spec.submodule_search_locations)[0]) / "bpe_qwen*.so"))
    if not found:
        raise Unavailable("bpe-qwen: its compiled module was not found")
    loader = importlib.machinery.ExtensionFileLoader("bpe_qwen.bpe_qwen", found[0])
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    folder = Path(tempfile.gettempdir()) / "qtok-bench" / f"bpe-qwen-{ref.hf_cache_path().stem}"
    if not (folder / "merges.txt").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        ref.hf_reference().model.save(str(folder))       # vocab.json + merges.txt
    tok = _loaded_or_unavailable(
        "bpe-qwen cannot load vocab.json/merges.txt",
        lambda: module.QwenTokenizer(str(folder)))
    return Loaded(
        encode=tok.encode,
        decode=tok.decode,
        notes=["bpe-qwen: QwenTokenizer(vocab.json + merges.txt of the built tokenizer.json)"],
    )


def _tuetoken() -> Loaded:
    import tuetoken
    tok = _loaded_or_unavailable(
        "tuetoken cannot load the tokenizer.json",
        lambda: tuetoken.Tokenizer(_hf_json()))
    return Loaded(
        encode=tok.encode_ordinary,
        decode=tok.decode,
        batch=lambda texts, threads: tok.encode_ordinary_batch(texts, num_threads=threads),
        count=tok.count_tokens,
        notes=["tuetoken: Tokenizer(tokenizer.json built from qwen.tiktoken)"],
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
    Adapter("gigatoken", "gigatoken", "gigatoken", "gigatoken", _gigatoken, required=False),
    Adapter("snaptokens", "snaptokens", "snaptokens", "snaptokens", _snaptokens, required=False),
    Adapter("splintr", "splintr-rs", "splintr-rs", "splintr", _splintr, required=False),
    Adapter("tokie", "tokie", "tokie", "tokie", _tokie, required=False),
    Adapter("kitoken", "kitoken", "kitoken", "kitoken", _kitoken, required=False),
    Adapter("tokendagger", "tokendagger", "tokendagger", "tokendagger", _tokendagger,
            required=False),
    Adapter("bpe_qwen", "bpe-qwen", "bpe-qwen", "", _bpe_qwen, required=False),
    Adapter("tuetoken", "tuetoken", "tuetoken", "tuetoken", _tuetoken, required=False),
]}

#: The optional peers, in the pytest suites' encode groups when installed.  A
#: peer whose ids differ is reported with how many differ, not failed.
PEERS = [key for key, adapter in ADAPTERS.items() if not adapter.required]
