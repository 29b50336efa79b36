"""qtok.Encoding behaves like tiktoken.Encoding, call for call.

Each test makes the same call on qtok and on tiktoken (built from the same
file) and compares; where qtok adds something (NFC, ``count``, cheap
pickling) the test says what it must do.
"""
from __future__ import annotations

import multiprocessing
import pickle
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import qtok
from corpus_files import synthetic_texts
from qwen_reference import nfc

SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}


@pytest.fixture(scope="module")
def texts() -> list[str]:
    # > 64 KB in total, so batch calls really spread over native threads.
    batch = synthetic_texts(400, seed=1)
    assert sum(len(t.encode()) for t in batch) > 65536
    return [t.replace("<|endoftext|>", "<|end") for t in batch]




# -- the vocabulary ------------------------------------------------------------------------

def test_every_regular_token(qwen_enc, qwen_ranks):
    assert len(qwen_ranks) == 151_643
    wrong = [(rank, token) for token, rank in qwen_ranks.items()
             if qwen_enc.decode_single_token_bytes(rank) != token]
    assert not wrong, f"{len(wrong)} tokens decode wrongly, e.g. {wrong[:3]}"
    by_rank = sorted(qwen_ranks.items(), key=lambda item: item[1])
    ids = [rank for _, rank in by_rank]
    assert qwen_enc.decode_tokens_bytes(ids) == [token for token, _ in by_rank]
    assert qwen_enc.decode_bytes(ids) == b"".join(token for token, _ in by_rank)
    assert qwen_enc.decode_bytes(np.asarray(ids, dtype=np.uint32)) == b"".join(token for token, _ in by_rank)


def test_token_byte_values(qwen_enc, qwen_ranks, tiktoken_ref):
    values = qwen_enc.token_byte_values()
    assert values == sorted(qwen_ranks)
    assert values == tiktoken_ref.token_byte_values()


def test_every_token_encodes_to_itself(qwen_enc_raw, qwen_ranks):
    # encode_single_token is the inverse of decode_single_token_bytes.
    wrong = [rank for token, rank in qwen_ranks.items() if qwen_enc_raw.encode_single_token(token) != rank]
    assert not wrong


@pytest.mark.parametrize("text, token_id", SPECIALS.items())
def test_special_token_bytes(qwen_enc, tiktoken_ref, text, token_id):
    assert qwen_enc.decode_single_token_bytes(token_id) == text.encode()
    assert qwen_enc.decode_single_token_bytes(token_id) == tiktoken_ref.decode_single_token_bytes(token_id)
    assert qwen_enc.encode_single_token(text) == token_id
    assert qwen_enc.decode([token_id]) == text


def test_vocabulary_properties(qwen_enc, tiktoken_ref):
    assert qwen_enc.n_vocab == tiktoken_ref.n_vocab == 151_646
    assert qwen_enc.max_token_value == tiktoken_ref.max_token_value == 151_645
    assert qwen_enc.eot_token == tiktoken_ref.eot_token == 151_643
    assert qwen_enc.special_tokens_set == tiktoken_ref.special_tokens_set == set(SPECIALS)
    assert qwen_enc.name == "qwen"
    assert [qwen_enc.is_special_token(i) for i in (0, 151642, 151643, 151645)] == [False, False, True, True]


@pytest.mark.parametrize("text", ["hello", b"hello", " world", "中", "<|im_end|>", "hello world", "\xff"])
def test_encode_single_token(qwen_enc, tiktoken_ref, text):
    try:
        want = tiktoken_ref.encode_single_token(text)
    except KeyError:
        with pytest.raises(KeyError):
            qwen_enc.encode_single_token(text)
    else:
        assert qwen_enc.encode_single_token(text) == want


# -- special-token semantics ------------------------------------------------------------------

TEXT_WITH_SPECIALS = "a<|im_start|>b <|endoftext|>\n<|im_end|><|im_end|>c"
SPECIAL_CASES = [
    dict(),
    dict(allowed_special="all"),
    dict(disallowed_special=()),
    dict(allowed_special={"<|im_start|>"}),
    dict(allowed_special={"<|im_start|>"}, disallowed_special=()),
    dict(allowed_special={"<|im_start|>", "<|endoftext|>", "<|im_end|>"}),
    dict(allowed_special=frozenset(), disallowed_special={"<|im_end|>"}),
    dict(allowed_special={"<|endoftext|>"}, disallowed_special={"<|endoftext|>"}),
    dict(allowed_special="all", disallowed_special="all"),
    dict(disallowed_special={"c"}),                    # any string can be disallowed
    dict(allowed_special={"hello", "<|im_start|>"}, disallowed_special=()),  # non-specials ignored
]


def outcome(fn):
    try:
        return fn()
    except ValueError as e:
        return ValueError, str(e)


@pytest.mark.parametrize("text", [TEXT_WITH_SPECIALS, "no specials here", "<|endoftext", "c",
                                  "1 < 2 <b>", "a <| b", "<< <|im_end|"])
@pytest.mark.parametrize("kwargs", SPECIAL_CASES, ids=repr)
def test_special_tokens_like_tiktoken(qwen_enc, tiktoken_ref, text, kwargs):
    want = outcome(lambda: tiktoken_ref.encode(text, **kwargs))
    got = outcome(lambda: qwen_enc.encode(text, **kwargs))
    if isinstance(want, tuple):
        assert isinstance(got, tuple), f"tiktoken raised {want[1]!r}, qtok returned {got}"
        # The message must name the offending token, as tiktoken's does.
        token = re.search(r"'(.+?)'", want[1]).group(1)
        assert token in got[1]
    else:
        assert got == want
        assert qwen_enc.encode_batch([text, text], **kwargs) == [want, want]
        assert qwen_enc.encode_to_numpy(text, **kwargs).tolist() == want
        assert qwen_enc.count(text, **kwargs) == len(want)


def test_special_tokens_of_other_shapes_like_tiktoken(qwen_ranks):
    # Special tokens that do not all start alike (encode and count test the
    # one first character of Qwen's inline), or of one character.
    import tiktoken
    specials = {"[CLS]": 151643, "<s>": 151644, "X": 151645, "[SEP]": 151646}
    ours = qtok.Encoding("shapes", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                         special_tokens=specials, normalization=None)
    ref = tiktoken.Encoding("shapes", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                            special_tokens=specials)
    for text in ["plain", "a [CLS] b", "a <s> b", "aXb", "[CL <s [SEP", "[SEP]", "x < y [ z"]:
        for kwargs in ({}, dict(allowed_special="all"), dict(disallowed_special=()),
                       dict(allowed_special={"X"})):
            want = outcome(lambda: ref.encode(text, **kwargs))
            got = outcome(lambda: ours.encode(text, **kwargs))
            assert type(got) is type(want), (text, kwargs, got, want)
            if isinstance(want, list):
                assert got == want, (text, kwargs)
                assert ours.count(text, **kwargs) == len(want)


def test_disallowed_special_raises_value_error(qwen_enc):
    for fn in (qwen_enc.encode, qwen_enc.encode_to_numpy, qwen_enc.count):
        with pytest.raises(ValueError, match=re.escape("'<|endoftext|>'")) as info:
            fn("x <|endoftext|>")
        assert "allowed_special" in str(info.value), "the message should say how to allow it"
    with pytest.raises(ValueError, match=re.escape("<|im_end|>")):
        qwen_enc.encode_batch(["fine", "not <|im_end|>"])


def test_encode_ordinary_treats_specials_as_text(qwen_enc, tiktoken_ref):
    ids = qwen_enc.encode_ordinary(TEXT_WITH_SPECIALS)
    assert ids == tiktoken_ref.encode_ordinary(TEXT_WITH_SPECIALS)
    assert not set(ids) & set(SPECIALS.values())
    assert qwen_enc.encode_ordinary_batch([TEXT_WITH_SPECIALS]) == [ids]
    assert qwen_enc.decode(ids) == TEXT_WITH_SPECIALS


# -- batch, numpy, count, decode ----------------------------------------------------------------

@pytest.mark.parametrize("num_threads", [1, 2, 8])
def test_batches_equal_single_calls(qwen_enc, tiktoken_ref, texts, num_threads):
    single = [qwen_enc.encode(t) for t in texts]
    assert single == [tiktoken_ref.encode(nfc(t)) for t in texts]
    assert qwen_enc.encode_batch(texts, num_threads=num_threads) == single
    assert qwen_enc.encode_ordinary_batch(texts, num_threads=num_threads) == single
    assert qwen_enc.count_batch(texts, num_threads=num_threads) == [len(ids) for ids in single]
    assert qwen_enc.decode_batch(single, num_threads=num_threads) == [nfc(t) for t in texts]
    assert qwen_enc.decode_bytes_batch(single) == [nfc(t).encode() for t in texts]


@pytest.mark.parametrize("bad, error", [("4", TypeError), (2.0, TypeError), (0, ValueError),
                                        (-1, ValueError)])
def test_every_batch_method_checks_num_threads(qwen_enc, bad, error):
    batch_methods = [(m, ["a"]) for m in (qwen_enc.encode_batch, qwen_enc.encode_ordinary_batch,
                                          qwen_enc.count_batch)]
    batch_methods += [(m, [[9707]]) for m in (qwen_enc.decode_batch, qwen_enc.decode_bytes_batch)]
    for method, batch in batch_methods:
        with pytest.raises(error, match="num_threads"):
            method(batch, num_threads=bad)


@pytest.mark.parametrize("threads", [None, 1, 3, 2**63])
def test_num_threads_none_means_one_per_core_and_large_values_are_capped(qwen_enc, threads, texts):
    want = [qwen_enc.encode(t) for t in texts[:50]]
    assert qwen_enc.encode_batch(texts[:50], num_threads=threads) == want
    assert qwen_enc.count_batch(texts[:50], num_threads=threads) == [len(w) for w in want]
    assert qwen_enc.decode_batch(want, num_threads=threads) == [qwen_enc.decode(w) for w in want]


def test_batch_with_allowed_specials(qwen_enc, tiktoken_ref):
    batch = [TEXT_WITH_SPECIALS, "plain", "<|endoftext|>"]
    assert (qwen_enc.encode_batch(batch, allowed_special="all")
            == tiktoken_ref.encode_batch(batch, allowed_special="all"))


def test_empty_inputs(qwen_enc, tiktoken_ref):
    assert qwen_enc.encode("") == tiktoken_ref.encode("") == []
    assert qwen_enc.count("") == 0
    assert qwen_enc.encode_to_numpy("").shape == (0,)
    assert qwen_enc.encode_batch([]) == qwen_enc.count_batch([]) == qwen_enc.decode_batch([]) == []
    assert qwen_enc.decode([]) == "" and qwen_enc.decode_bytes([]) == b""


def test_encode_to_numpy(qwen_enc, texts):
    text = "".join(texts[:50])
    array = qwen_enc.encode_to_numpy(text)
    assert isinstance(array, np.ndarray) and array.dtype == np.uint32 and array.ndim == 1
    assert array.tolist() == qwen_enc.encode(text)
    assert qwen_enc.decode(array) == nfc(text)
    with_special = qwen_enc.encode_to_numpy("x<|im_end|>", allowed_special="all")
    assert with_special.dtype == np.uint32
    assert with_special.tolist() == qwen_enc.encode("x<|im_end|>", allowed_special="all")


def test_result_lists_share_everlasting_ints(qwen_enc_raw, tiktoken_ref, texts):
    """Result lists hold one shared int object per id.  Where qtok stores
    them without an INCREF (64-bit CPython), each freed list takes a count
    off them: their counts must stay far from zero however many lists come
    and go, and every list must still read right."""
    from qtok import _bpe

    text = "".join(texts[:20])
    first = qwen_enc_raw.encode_ordinary(text)
    expected = tiktoken_ref.encode_ordinary(text)
    assert first == expected
    for _ in range(300):
        qwen_enc_raw.encode_ordinary(text)
        qwen_enc_raw.encode_ordinary_batch([text, text[:100]], num_threads=2)
    again = qwen_enc_raw.encode_ordinary(text)
    assert again == expected
    assert all(a is b for a, b in zip(again, first))      # the same objects
    if _bpe._everlasting_ints():
        assert min(sys.getrefcount(i) for i in set(first)) > 2**30


def test_count(qwen_enc, texts):
    for text in texts[:100]:
        assert qwen_enc.count(text) == len(qwen_enc.encode(text))
    assert qwen_enc.count("a<|im_end|>", allowed_special="all") == 2


def test_decode_errors_argument(qwen_enc, tiktoken_ref):
    ids = qwen_enc.encode("中文")
    cut = [qwen_enc.encode_single_token(b"\xe4")]        # first byte of a 3-byte character
    assert qwen_enc.decode(cut) == tiktoken_ref.decode(cut) == "\ufffd"
    assert qwen_enc.decode(cut, errors="ignore") == ""
    with pytest.raises(UnicodeDecodeError):
        qwen_enc.decode(cut, errors="strict")
    assert qwen_enc.decode(ids, errors="strict") == "中文"


def test_decode_accepts_sequences_and_arrays(qwen_enc):
    ids = qwen_enc.encode("hello world")
    for form in (ids, tuple(ids), np.asarray(ids, dtype=np.uint32), np.asarray(ids, dtype=np.int64),
                 [np.int64(i) for i in ids]):
        assert qwen_enc.decode(form) == "hello world"


def test_decode_with_offsets(qwen_enc, tiktoken_ref):
    for text in ["héllo 世界 ok", "👍🏽 done", "<|im_end|>x"]:
        ids = qwen_enc.encode(text, allowed_special="all")
        assert qwen_enc.decode_with_offsets(ids) == tiktoken_ref.decode_with_offsets(ids)


# -- NFC on and off ----------------------------------------------------------------------

DECOMPOSED = ["e\u0301", "Cafe\u0301 na\u0308ive", "\u1112\u1161\u11ab\u1100\u1173\u11af",
              "\u212b", "\u1e9b\u0323", "ﬁ ①", "a\u0328\u0301"]


@pytest.mark.parametrize("text", DECOMPOSED)
def test_nfc_on_and_off(qwen_enc, qwen_enc_raw, tiktoken_ref, text):
    assert qwen_enc.normalization == "NFC" and qwen_enc_raw.normalization is None
    assert qwen_enc.encode(text) == tiktoken_ref.encode(nfc(text))
    assert qwen_enc_raw.encode(text) == tiktoken_ref.encode(text)
    assert qwen_enc.count(text) == len(tiktoken_ref.encode(nfc(text)))
    assert qwen_enc_raw.encode_ordinary_batch([text]) == [tiktoken_ref.encode(text)]
    assert qwen_enc.decode(qwen_enc.encode(text)) == nfc(text)
    assert qwen_enc_raw.decode(qwen_enc_raw.encode(text)) == text


def test_nfc_changes_something(qwen_enc, qwen_enc_raw):
    # Otherwise the test above would not tell the two modes apart.
    assert qwen_enc.encode("e\u0301") != qwen_enc_raw.encode("e\u0301")


def test_nfc_not_nfkc(qwen_enc, tiktoken_ref):
    # Compatibility characters survive NFC: "ﬁ" is not turned into "fi".
    assert qwen_enc.encode("ﬁ") == tiktoken_ref.encode("ﬁ") != tiktoken_ref.encode("fi")


# -- the registry ---------------------------------------------------------------------------

def test_get_encoding_is_cached_with_aliases(qwen_enc):
    assert qtok.get_encoding("qwen") is qwen_enc
    for name in ("qwen2", "qwen1.5", "qwen1", "qwen2.5", "qwen3"):
        assert qtok.get_encoding(name).encode("hello world") == qwen_enc.encode("hello world")
    assert qtok.get_encoding("qwen2") is qtok.get_encoding("qwen2")
    assert qtok.get_encoding("qwen", normalization=None) is not qwen_enc
    assert qtok.list_encoding_names() == ["qwen1", "qwen2", "qwen2.5", "qwen3"]


def test_get_encoding_unknown_name():
    with pytest.raises(ValueError, match="cl100k_base"):
        qtok.get_encoding("cl100k_base")
    with pytest.raises(TypeError):
        qtok.get_encoding(None)


def test_encoding_for_model(qwen_enc):
    assert qtok.encoding_for_model("Qwen/Qwen2.5-7B-Instruct").encode("hi") == qwen_enc.encode("hi")
    with pytest.raises(KeyError, match="gpt-4"):
        qtok.encoding_for_model("gpt-4")


def test_tiktoken_style_constructor(qwen_enc, qwen_ranks, texts):
    enc = qtok.Encoding("mine", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                        special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    assert enc.name == "mine" and enc.n_vocab == 151_646
    assert enc.encode_batch(texts[:50], allowed_special="all") == qwen_enc.encode_batch(
        texts[:50], allowed_special="all")
    with pytest.raises(ValueError, match="151646"):
        qtok.Encoding("mine", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                      special_tokens=qtok.QWEN_SPECIAL_TOKENS, explicit_n_vocab=151_000)


def test_other_patterns_are_refused(qwen_ranks):
    # The native scanner implements the Qwen pattern only; a different one
    # must fail loudly rather than tokenize by the wrong rules.
    with pytest.raises(qtok.VocabularyError, match="pattern"):
        qtok.Encoding("gpt2-ish", pat_str=r"\w+|\s+", mergeable_ranks=qwen_ranks, special_tokens={})


# -- pickling and processes -------------------------------------------------------------------

@pytest.mark.parametrize("which", ["qwen_enc", "qwen_enc_raw"])
def test_pickle_round_trip_is_small(request, which, texts):
    enc = request.getfixturevalue(which)
    data = pickle.dumps(enc)
    # A recipe, not the 2.5 MB vocabulary.
    assert len(data) < 1000, f"pickle is {len(data)} bytes"
    assert b"<|endoftext|>" not in data and b"hello" not in data
    clone = pickle.loads(data)
    assert clone.name == enc.name and clone.normalization == enc.normalization
    assert clone.encode_batch(texts) == enc.encode_batch(texts)
    assert clone.encode("e\u0301") == enc.encode("e\u0301")


def test_multiprocessing_pool(qwen_enc, texts):
    # spawn, not fork: the child gets the Encoding only through pickle.
    chunk = texts[:40]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(qwen_enc.encode, chunk)
        counts = pool.map(qwen_enc.count, chunk)
    assert results == [qwen_enc.encode(t) for t in chunk]
    assert counts == [len(r) for r in results]


def test_python_threads_encoding_at_once(qwen_enc, tiktoken_ref, texts):
    # Texts under 2 KB are encoded holding the GIL, longer ones without it;
    # either way each call takes a piece cache from the encoder's pool.  Many
    # Python threads at once must still all get tiktoken's answer.
    long_texts, current = [], ""
    for t in texts:
        current += t
        if len(current.encode()) >= 4096:
            long_texts.append(current)
            current = ""
    jobs = [t[:300] for t in texts[:200]] + long_texts
    assert len(long_texts) >= 10
    want = [tiktoken_ref.encode_ordinary(nfc(t)) for t in jobs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(qwen_enc.encode_ordinary, jobs * 4))
    assert got == want * 4


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint64", "int16", "uint32"])
def test_decode_numpy_arrays_of_any_integer_type(qwen_enc, texts, dtype):
    ids = qwen_enc.encode("".join(texts[:50]))
    small = [i for i in ids if i < 30000] if dtype == "int16" else ids
    array = np.array(small).astype(dtype)
    assert qwen_enc.decode(array) == qwen_enc.decode(small)
    assert qwen_enc.decode_bytes(array) == qwen_enc.decode_bytes(small)
    if dtype.startswith("int"):
        with pytest.raises(qtok.InvalidToken, match="-1"):
            qwen_enc.decode(np.array([5, -1], dtype=dtype))
    with pytest.raises(qtok.InvalidToken, match=str(qwen_enc.n_vocab)):
        qwen_enc.decode(np.array([5, qwen_enc.n_vocab], dtype="int64"))


# -- the package's names, imported on first use -------------------------------------------

def test_import_loads_no_native_code_until_a_name_is_used():
    import subprocess
    script = ("import sys, qtok\n"
              "before = sorted(m for m in sys.modules if m.startswith('qtok'))\n"
              "ids = qtok.get_encoding('qwen').encode('hello world')\n"
              "print(before, 'qtok._bpe' in sys.modules, ids)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "['qtok', 'qtok._version'] True [14990, 1879]"


def test_every_public_name_resolves_and_is_listed():
    for name in qtok.__all__:
        assert getattr(qtok, name) is not None
    assert set(qtok.__all__) <= set(dir(qtok))
    assert qtok.Encoding is qtok.core.Encoding
    assert qtok.get_encoding is qtok.registry.get_encoding
    namespace = {}
    exec("from qtok import *", namespace)
    assert set(qtok.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no_such_name"):
        qtok.no_such_name
    assert not hasattr(qtok, "no_such_module")


def test_submodules_are_attributes_without_an_import_of_their_own():
    import subprocess
    script = ("import qtok\n"
              "print(qtok.normalize.to_nfc('e\\u0301') == '\\u00e9', qtok.errors.VocabularyError.__name__,\n"
              "      qtok.load.__name__, hasattr(qtok, 'nope'))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "True VocabularyError qtok.load False"
