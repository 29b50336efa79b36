"""One text on one thread: a long new str that is not ASCII has its UTF-8
written by qtok (qtok/utf8.h) into the piece cache's buffer, not made and
kept by CPython; the same str met again takes CPython's, kept from then on.
Either way the ids are tiktoken's.
"""
from __future__ import annotations

import sysconfig

import pytest

import qtok
from qtok import _bpe

MIN = _bpe.own_utf8_min_chars

# Without a GIL (free-threaded CPython) a str's UTF-8 always comes from
# CPython (qtok/pystr.h).
QTOK_WRITES_UTF8 = not sysconfig.get_config_var("Py_GIL_DISABLED")

_KEPT: list[str] = []


def fresh(text: str) -> str:
    """A new str object of text's characters, whose UTF-8 CPython has not
    made, kept alive to the end of the test (a str of the same length and
    characters at a freed one's address would pass for it, met again)."""
    copy = text[:1] + text[1:]
    assert copy is not text
    _KEPT.append(copy)
    return copy


@pytest.fixture(autouse=True)
def _one_thread(threads):
    threads(1)
    yield
    _KEPT.clear()


TEXTS = {
    "Latin-1": "café naïve ß ÿ¡ ",
    "two bytes a character": "Привет, мир! 中文字符，ok ",
    "astral": "😀 word 𝔘𝔫𝔦 中 ",
    "letters only": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
}


def long(unit: str, chars: int = 3 * MIN) -> str:
    return unit * (chars // len(unit) + 1)


@pytest.mark.parametrize("name", list(TEXTS))
def test_a_new_long_str_is_written_by_qtok_then_met_again(name, qwen_enc_raw, tiktoken_ref):
    text = long(TEXTS[name])
    want = tiktoken_ref.encode_ordinary(fresh(text))
    copy = fresh(text)
    assert qwen_enc_raw.encode_ordinary(copy) == want
    assert _bpe._str_has_utf8(copy) != QTOK_WRITES_UTF8
    # Met again: CPython's UTF-8, which the str then keeps.
    assert qwen_enc_raw.encode_ordinary(copy) == want
    assert _bpe._str_has_utf8(copy)
    assert qwen_enc_raw.encode_ordinary(copy) == want
    for call in (lambda t: qwen_enc_raw.count(t, disallowed_special=()),
                 lambda t: qwen_enc_raw.encode_to_numpy(t, disallowed_special=()).tolist(),
                 lambda t: qwen_enc_raw.encode(t, disallowed_special=())):
        result = call(fresh(text))
        assert result == (len(want) if isinstance(result, int) else want)


def test_short_and_ascii_strs_take_cpythons_utf8(qwen_enc_raw, tiktoken_ref):
    # (tiktoken makes CPython keep a str's UTF-8: it gets copies of its own.)
    short = fresh(long("café ", MIN)[:MIN - 1])
    assert qwen_enc_raw.encode_ordinary(short) == tiktoken_ref.encode_ordinary(fresh(short))
    assert _bpe._str_has_utf8(short)
    at_min = fresh(long("café ", MIN)[:MIN])
    assert qwen_enc_raw.encode_ordinary(at_min) == tiktoken_ref.encode_ordinary(fresh(at_min))
    assert _bpe._str_has_utf8(at_min) != QTOK_WRITES_UTF8
    ascii_text = fresh(long("plain words "))
    assert qwen_enc_raw.encode_ordinary(ascii_text) == tiktoken_ref.encode_ordinary(ascii_text)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("unit", ["word é ", "中文，", "😀 x "])
def test_a_lone_surrogate_in_a_new_long_str_on_one_thread(where, unit, qwen_enc_raw, tiktoken_ref):
    """No UTF-8: the text takes the way of every text that holds one
    (CPython's error, then the same replacement as tiktoken's)."""
    body = long(unit)
    half = len(body) // 2
    text = {"first": "\ud800" + body, "middle": body[:half] + "\udfff" + body[half:],
            "last": body + "\ud83d"}[where]
    want = tiktoken_ref.encode_ordinary(fresh(text))
    assert qwen_enc_raw.encode_ordinary(fresh(text)) == want
    assert qwen_enc_raw.count(fresh(text), disallowed_special=()) == len(want)
    assert qwen_enc_raw.encode(fresh(text), disallowed_special=()) == tiktoken_ref.encode(
        fresh(text), disallowed_special=())


def test_many_strs_each_written_or_met_again(qwen_enc_raw, tiktoken_ref):
    """More strs than qtok remembers (1,024): one it has forgotten is written
    again, one it remembers takes CPython's; the ids never change."""
    texts = [fresh(long(f"слово{i} ", MIN + i)) for i in range(1600)]
    wants = [len(tiktoken_ref.encode_ordinary(fresh(t))) for t in texts]
    first, rest = texts[:400], texts[400:]
    assert [qwen_enc_raw.count(t, disallowed_special=()) for t in first] == wants[:400]
    assert [qwen_enc_raw.count(t, disallowed_special=()) for t in rest] == wants[400:]
    assert [qwen_enc_raw.count(t, disallowed_special=()) for t in first] == wants[:400]
    if QTOK_WRITES_UTF8:
        kept = sum(_bpe._str_has_utf8(t) for t in first)     # remembered: met again
        assert 0 < 400 - kept                                  # forgotten: written again
    assert [qwen_enc_raw.count(t, disallowed_special=()) for t in first] == wants[:400]


def test_the_default_encoding_normalizes_then_writes_the_utf8(qwen_enc, tiktoken_ref):
    text = long("e\u0301té, Привет ")               # not NFC: normalized first
    normalized = qtok.normalize.to_nfc(text)
    assert normalized != text
    assert qwen_enc.encode_ordinary(fresh(text)) == tiktoken_ref.encode_ordinary(normalized)
    nfc_text = fresh(normalized)
    assert qwen_enc.encode_ordinary(nfc_text) == tiktoken_ref.encode_ordinary(normalized)


def test_a_batch_text_normalized_on_the_calling_thread(qwen_enc, tiktoken_ref):
    """A batch's text that is not NFC is normalized and encoded on the
    calling thread with the cache it holds (CoreBPE._batch_result)."""
    texts = [long("e\u0301té ") + str(i) for i in range(3)] + ["plain"]
    got = qwen_enc.encode_ordinary_batch([fresh(t) for t in texts], num_threads=2)
    assert got == [tiktoken_ref.encode_ordinary(qtok.normalize.to_nfc(t)) for t in texts]
