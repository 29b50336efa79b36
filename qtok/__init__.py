"""qtok: a fast, exact tokenizer for the Qwen vocabulary.

    import qtok
    enc = qtok.get_encoding("qwen3")              # or qwen1, qwen2, qwen2.5
    enc.encode("hello world")                     # same ids as Qwen's tokenizer
    qtok.encoding_for_model("Qwen/Qwen2.5-7B-Instruct")

The API follows tiktoken's (``get_encoding``, ``Encoding.encode`` ...).  The
compression analyser is ``qtok.analysis``.

The names below are imported on first use (PEP 562): ``import qtok`` reads
this file alone, and the native core loads with the first name a program
touches, usually ``get_encoding``.  A program that imports qtok and does not
tokenize on every run (a command-line tool, an optional feature) does not
pay for loading it.
"""
from ._version import __version__

# Where each public name lives.
_NAMES = {
    "Encoding": "core",
    "InvalidToken": "errors", "VocabularyError": "errors",
    "QWEN_PATTERN": "qwen", "QWEN_SPECIAL_TOKENS": "qwen",
    "get_num_threads": "threads", "set_num_threads": "threads",
    "encoding_for_model": "registry", "encoding_name_for_model": "registry",
    "get_encoding": "registry", "list_encoding_names": "registry",
    "load_tiktoken_file": "registry", "load_tokenizer_json": "registry",
    "load_vocab_merges": "registry",
}

__all__ = [*_NAMES, "__version__"]


def __getattr__(name: str):
    from importlib import import_module
    module = _NAMES.get(name)
    if module is not None:
        value = getattr(import_module(f"{__name__}.{module}"), name)
        globals()[name] = value          # found directly from now on
        return value
    # A submodule, as `qtok.normalize.to_nfc` without importing qtok.normalize
    # first (importing it makes it an attribute of the package).
    if not name.startswith("__"):
        try:
            return import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'qtok' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))


# typing.TYPE_CHECKING without importing typing: type checkers take any
# constant of this name as true, so they see every name as imported here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .core import Encoding
    from .errors import InvalidToken, VocabularyError
    from .qwen import QWEN_PATTERN, QWEN_SPECIAL_TOKENS
    from .registry import (encoding_for_model, encoding_name_for_model, get_encoding,
                           list_encoding_names, load_tiktoken_file, load_tokenizer_json,
                           load_vocab_merges)
    from .threads import get_num_threads, set_num_threads
del TYPE_CHECKING
