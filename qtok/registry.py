"""Named encodings, as in tiktoken's registry: ``get_encoding("qwen")``."""
from __future__ import annotations

import os
import threading

from . import load
from .core import Encoding
from .load import cached_spec
from .qwen import QWEN_PATTERN

#: name -> canonical name
_ALIASES = {"qwen": "qwen", "qwen2": "qwen", "qwen2.5": "qwen", "qwen.tiktoken": "qwen"}

_lock = threading.Lock()
_encodings: dict[tuple, Encoding] = {}


def list_encoding_names() -> list[str]:
    return sorted(_ALIASES)


def get_encoding(encoding_name: str, *, normalization: str | None = "NFC") -> Encoding:
    """The named encoding, loaded once per process and then shared.

    ``"qwen"`` (aliases ``"qwen2"``, ``"qwen2.5"``) is the bundled Qwen
    vocabulary: 151,643 regular tokens and 3 special tokens.  Text is
    normalized to NFC first, as Qwen does; ``normalization=None`` skips that.
    """
    if not isinstance(encoding_name, str):
        raise TypeError(f"encoding name must be a str, got {type(encoding_name).__name__}")
    canonical = _ALIASES.get(encoding_name)
    if canonical is None:
        raise ValueError(f"Unknown encoding {encoding_name!r}: qtok knows "
                         f"{', '.join(list_encoding_names())}")
    key = (canonical, normalization)
    enc = _encodings.get(key)
    if enc is None:
        # cached_spec() loads the vocabulary at most once; two threads racing
        # here may each wrap it in an Encoding, and setdefault keeps the first.
        enc = Encoding._from_spec(canonical, cached_spec((load.qwen_spec, (normalization,))))
        with _lock:
            enc = _encodings.setdefault(key, enc)
    return enc


def encoding_for_model(model_name: str) -> Encoding:
    """The encoding of a Qwen model name (Qwen, Qwen1.5, Qwen2, Qwen2.5, QwQ...)."""
    lowered = model_name.lower().rsplit("/", 1)[-1]
    if lowered.startswith(("qwen", "qwq")):
        return get_encoding("qwen")
    raise KeyError(f"Could not automatically map {model_name!r} to a qtok encoding")


# -- loaders for other files of the same kind ------------------------------------

def load_tiktoken_file(path, *, special_tokens: dict[str, int] | None = None,
                       pat_str: str = QWEN_PATTERN, expected_sha256: str | None = None,
                       normalization: str | None = "NFC", name: str | None = None) -> Encoding:
    """An Encoding from any tiktoken-format file (Qwen pattern)."""
    spec = load.tiktoken_file_spec(path, special_tokens=special_tokens, pat_str=pat_str,
                                   expected_sha256=expected_sha256, normalization=normalization)
    return Encoding._from_spec(name or os.path.basename(os.fspath(path)), spec)


def load_tokenizer_json(path, *, name: str | None = None) -> Encoding:
    """An Encoding from a Qwen2-style Hugging Face tokenizer.json (or its folder)."""
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    return Encoding._from_spec(name or os.fspath(path), load.tokenizer_json_spec(path))


def load_vocab_merges(vocab_path, merges_path=None, *, special_tokens: dict[str, int] | None = None,
                      normalization: str | None = "NFC", name: str | None = None) -> Encoding:
    """An Encoding from vocab.json (+ merges.txt) in the byte-level alphabet."""
    spec = load.vocab_merges_spec(vocab_path, merges_path, special_tokens=special_tokens,
                                  normalization=normalization)
    return Encoding._from_spec(name or os.fspath(vocab_path), spec)
