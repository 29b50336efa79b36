"""qtok: a fast, exact tokenizer for the Qwen vocabulary.

    import qtok
    enc = qtok.get_encoding("qwen3")              # or qwen1, qwen2, qwen2.5
    enc.encode("hello world")                     # same ids as Qwen's tokenizer
    qtok.encoding_for_model("Qwen/Qwen2.5-7B-Instruct")

The API follows tiktoken's (``get_encoding``, ``Encoding.encode`` ...).  The
compression analyser is ``qtok.analysis``.
"""
from ._version import __version__
from .core import Encoding
from .errors import InvalidToken, VocabularyError
from .qwen import QWEN_PATTERN, QWEN_SPECIAL_TOKENS
from .threads import get_num_threads, set_num_threads
from .registry import (encoding_for_model, encoding_name_for_model, get_encoding,
                       list_encoding_names, load_tiktoken_file, load_tokenizer_json,
                       load_vocab_merges)

__all__ = [
    "Encoding", "InvalidToken", "VocabularyError", "get_encoding", "encoding_for_model",
    "encoding_name_for_model", "list_encoding_names", "load_tiktoken_file", "load_tokenizer_json", "load_vocab_merges",
    "QWEN_PATTERN", "QWEN_SPECIAL_TOKENS", "get_num_threads", "set_num_threads", "__version__",
]
