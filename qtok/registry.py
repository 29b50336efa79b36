"""Named encodings, as in tiktoken's registry: ``get_encoding("qwen3")``,
``encoding_for_model("Qwen/Qwen3-8B")``."""
from __future__ import annotations

import os
import re
from _thread import allocate_lock

from . import load
from .core import Encoding
from .load import cached_spec
from .qwen import QWEN_GENERATIONS, QWEN_PATTERN

#: Every name get_encoding takes (any case) -> the generation it names.
_NAMES = {
    "qwen1": "qwen1",
    "qwen2": "qwen2", "qwen": "qwen2", "qwen1.5": "qwen2", "qwen.tiktoken": "qwen2",
    "qwen2.5": "qwen2.5",
    "qwen3": "qwen3",
}

_lock = allocate_lock()     # a threading.Lock, without importing threading
_encodings: dict[tuple, Encoding] = {}


def list_encoding_names() -> list[str]:
    """The encodings qtok ships, one name each (get_encoding also takes the
    aliases "qwen" and "qwen1.5" for "qwen2")."""
    return list(QWEN_GENERATIONS)


def get_encoding(encoding_name: str, *, normalization: str | None = "NFC") -> Encoding:
    """The named encoding, loaded once per process and then shared.

    Every name is the bundled Qwen vocabulary (151,643 regular tokens) with
    one generation's added tokens: ``"qwen1"`` (Qwen-1: 208 added, n_vocab
    151,851), ``"qwen2"`` (aliases ``"qwen"``, ``"qwen1.5"``: 3), ``"qwen2.5"``
    (22) and ``"qwen3"`` (26).  Text is normalized to NFC first, as Qwen does;
    ``normalization=None`` skips that.
    """
    if not isinstance(encoding_name, str):
        raise TypeError(f"encoding name must be a str, got {type(encoding_name).__name__}")
    name = encoding_name.lower()
    generation = _NAMES.get(name)
    if generation is None:
        raise ValueError(f"Unknown encoding {encoding_name!r}: qtok knows "
                         f"{', '.join(list_encoding_names())} (and the aliases qwen, qwen1.5)")
    key = (name, normalization)
    enc = _encodings.get(key)
    if enc is None:
        # cached_spec() loads the vocabulary at most once; two threads racing
        # here may each wrap it in an Encoding, and setdefault keeps the first.
        spec = cached_spec((load.qwen_spec, (generation, normalization)))
        enc = Encoding._from_spec(name, spec)
        with _lock:
            enc = _encodings.setdefault(key, enc)
    return enc


#: Model-name prefixes (lower case, no organisation) -> encoding, longest
#: first.  Checked against the model families' published tokenizer files.
_MODEL_PREFIXES = (
    ("qwq-32b-preview", "qwen2.5"),
    ("qwq", "qwen3"),
    ("qwen3", "qwen3"),
    ("qwen2.5", "qwen2.5"),
    ("qwen2", "qwen2"),
    ("qwen1.5", "qwen2"),
    ("qwen", "qwen1"),
)
#: Families whose tokenizer adds tokens qtok has no encoding for: their own
#: tokenizer.json says which (load it with load_tokenizer_json).
_OWN_ADDED_TOKENS = ("qwen2-vl", "qwen2-audio", "qwen2.5-omni", "qwen-vl", "qwen-audio")


def encoding_name_for_model(model_name: str) -> str:
    """The name of the encoding of a Qwen model: ``"Qwen/Qwen3-8B"``,
    ``"qwen2.5-coder-7b-instruct-awq"``, ``"Qwen-7B-Chat"`` ... (with or without
    the organisation, any case, any suffix).  KeyError for other models,
    and for Qwen3.5 and later, whose vocabulary (248k tokens) and pattern
    are not Qwen's of before."""
    if not isinstance(model_name, str):
        raise TypeError(f"model name must be a str, got {type(model_name).__name__}")
    name = model_name.strip().lower().rsplit("/", 1)[-1]
    later = re.match(r"qwen(\d+)(?:\.(\d+))?", name)
    if later and (int(later.group(1)) > 3 or (int(later.group(1)) == 3 and later.group(2)
                                               and int(later.group(2)) >= 5)):
        raise KeyError(f"{model_name!r}: Qwen3.5 and later use another vocabulary (248k tokens) "
                       f"and pre-tokenization pattern, which qtok does not implement; qtok "
                       f"covers Qwen-1 to Qwen3")
    if name.startswith(_OWN_ADDED_TOKENS):
        raise KeyError(f"{model_name!r}: this model's tokenizer adds tokens of its own; load its "
                       f"tokenizer.json with qtok.load_tokenizer_json(path_or_checkpoint_folder)")
    for prefix, encoding_name in _MODEL_PREFIXES:
        if name.startswith(prefix) and not name[len(prefix):len(prefix) + 1].isalpha():
            return encoding_name
    raise KeyError(f"Could not automatically map {model_name!r} to a qtok encoding: qtok "
                   f"knows the Qwen models (Qwen-1 to Qwen3); use qtok.get_encoding(name) "
                   f"with one of {', '.join(list_encoding_names())}")


def encoding_for_model(model_name: str) -> Encoding:
    """The encoding of a Qwen model (see encoding_name_for_model)."""
    return get_encoding(encoding_name_for_model(model_name))


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
