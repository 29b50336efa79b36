"""qtok.Encoding against tiktoken.Encoding, name by name: every public name
tiktoken has exists, and the less common methods give tiktoken's results."""
from __future__ import annotations

import pytest

import qtok
from corpus_files import synthetic_texts

tiktoken = pytest.importorskip("tiktoken")

#: Names of tiktoken.Encoding that qtok does not have, and why.
ALLOWED_GAPS = {
    "__getstate__": "qtok pickles through __reduce__ (a recipe, not the tables)",
    "__setstate__": "qtok pickles through __reduce__ (a recipe, not the tables)",
    "_core_bpe": "tiktoken's Rust object; qtok's core is _core, a qtok._bpe.CoreBPE",
}
#: Module-level names of tiktoken that qtok does not have, and why.
ALLOWED_MODULE_GAPS = {
    "_tiktoken": "tiktoken's Rust extension module",
    "model": "tiktoken's own table of OpenAI model names (qtok: encoding_name_for_model)",
    "core": "tiktoken's module of Encoding (qtok: qtok.core)",
    "load": "tiktoken's file loader module (qtok: qtok.load)",
    "registry": "tiktoken's plugin registry (qtok: qtok.registry)",
}


@pytest.fixture(scope="module")
def pair(qwen_ranks):
    theirs = tiktoken.Encoding("qwen", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                               special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    return qtok.get_encoding("qwen", normalization=None), theirs


def test_every_name_of_tiktoken_encoding_exists(pair):
    ours, theirs = pair
    missing = {n for n in set(dir(theirs)) - set(dir(ours)) if n not in ALLOWED_GAPS}
    assert not missing, f"qtok.Encoding lacks {sorted(missing)}"


def test_every_name_of_the_tiktoken_module_exists():
    missing = {n for n in dir(tiktoken) if not n.startswith("__")} - set(dir(qtok)) - set(ALLOWED_MODULE_GAPS)
    assert not missing, f"qtok lacks {sorted(missing)}"


TEXTS = ["hello fanta", "hello world ", "hello world  ", "a\n\n", "x = 1;\t", "中文", "e\u0301",
         "Hello, world!", "   ", "<|endoftext|>", "x<|im_end|>", "ab12", "don't", ""]


@pytest.mark.parametrize("text", TEXTS + synthetic_texts(12, seed=3, max_phrases=3))
def test_encode_with_unstable_equals_tiktoken(pair, text):
    ours, theirs = pair
    for kwargs in ({"disallowed_special": ()}, {"allowed_special": "all"}):
        mine, mine_completions = ours.encode_with_unstable(text, **kwargs)
        want, want_completions = theirs.encode_with_unstable(text, **kwargs)
        assert mine == want
        assert sorted(map(tuple, mine_completions)) == sorted(map(tuple, want_completions))


@pytest.mark.parametrize("data", [b"hello \xe4\xb8", b"\xff", b"abc", b"hello  \xe4", b"",
                                  "中文字".encode()[:-1], b"x \xf0\x9f\x98", b"   \xc3"])
def test_encode_bytes_equals_tiktoken(pair, data):
    ours, theirs = pair
    assert ours._encode_bytes(data) == theirs._encode_bytes(data)


@pytest.mark.parametrize("text", ["helloqqqq", "hello world", "中文", "\n\n  ", "a" * 300])
def test_single_piece_and_native_bpe_equal_tiktoken(pair, text):
    ours, theirs = pair
    assert ours._encode_single_piece(text) == theirs._encode_single_piece(text)
    assert ours._encode_single_piece(text.encode()) == theirs._encode_single_piece(text.encode())
    assert ours._encode_only_native_bpe(text) == theirs._encode_only_native_bpe(text)


def test_special_token_values(pair):
    ours, theirs = pair
    assert set(ours._special_token_values) == set(theirs._special_token_values)
    assert ours.is_special_token(151643) and not ours.is_special_token(9707)
