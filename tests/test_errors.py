"""Bad input gets a clear exception of the right type, never a crash.

* Non-str text: TypeError.
* Lone surrogates: replaced by U+FFFD as tiktoken does, so ids still match.
* Ids outside the vocabulary: qtok.InvalidToken, which is a ValueError and
  also a KeyError (what tiktoken raises), with the id in the message.
* A damaged, wrong or missing vocabulary file: qtok.VocabularyError (a
  ValueError) naming the file, and the checksum when one is checked.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import qtok
from qwen_reference import nfc
from qtok import load, qwen

# -- text that is not text ------------------------------------------------------------------

NOT_STR = [b"hello", bytearray(b"hi"), None, 1, 1.5, ["a"], memoryview(b"x")]
ENCODE_CALLS = ["encode", "encode_ordinary", "count", "encode_to_numpy"]
BATCH_CALLS = ["encode_batch", "encode_ordinary_batch", "count_batch"]


@pytest.mark.parametrize("value", NOT_STR, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("call", ENCODE_CALLS)
def test_encode_non_str_is_type_error(qwen_enc, call, value):
    with pytest.raises(TypeError, match=type(value).__name__):
        getattr(qwen_enc, call)(value)


@pytest.mark.parametrize("value", NOT_STR, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("call", BATCH_CALLS)
def test_batch_item_non_str_is_type_error(qwen_enc, call, value):
    # The error names the row and what it holds.
    with pytest.raises(TypeError, match=rf"got {type(value).__name__} \(row 1 of the batch\)"):
        getattr(qwen_enc, call)(["fine", value])
    with pytest.raises(TypeError, match=type(value).__name__):
        getattr(qwen_enc, call)(x for x in ["fine", value])


@pytest.mark.parametrize("call", BATCH_CALLS)
def test_batch_of_a_single_str_is_type_error(qwen_enc, call):
    # A str is a sequence of characters; encoding each one is never what was meant.
    with pytest.raises(TypeError, match="str"):
        getattr(qwen_enc, call)("not a list")


def test_str_subclass_is_accepted(qwen_enc):
    class Text(str):
        pass
    assert qwen_enc.encode(Text("hello world")) == qwen_enc.encode("hello world")


# -- lone surrogates -------------------------------------------------------------------------

SURROGATE_TEXTS = ["a\ud800b", "\udfff", "x\ud83d\ude00y", "\ud83d", "e\u0301\udc00 <|endoftext|>",
                   "\ud800" * 5 + " ok", "   \udbff\n"]


@pytest.mark.parametrize("text", SURROGATE_TEXTS, ids=ascii)
def test_lone_surrogates_like_tiktoken(qwen_enc, qwen_enc_raw, tiktoken_ref, text):
    normal = nfc(text)
    want = tiktoken_ref.encode_ordinary(normal)
    assert qwen_enc.encode_ordinary(text) == want
    assert qwen_enc.encode(text, disallowed_special=()) == tiktoken_ref.encode(normal, disallowed_special=())
    assert qwen_enc.encode(text, allowed_special="all") == tiktoken_ref.encode(normal, allowed_special="all")
    assert qwen_enc.count(text, disallowed_special=()) == len(want)
    assert qwen_enc.encode_to_numpy(text, disallowed_special=()).tolist() == want
    assert qwen_enc.encode_ordinary_batch([text, "ok"]) == [want, tiktoken_ref.encode_ordinary("ok")]
    assert qwen_enc.encode_batch([text], disallowed_special=()) == [want]
    assert qwen_enc.count_batch([text], disallowed_special=()) == [len(want)]
    assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text)
    assert "\ufffd" in qwen_enc.decode(want) or "\U0001f600" in qwen_enc.decode(want)


# -- ids outside the vocabulary ------------------------------------------------------------------

BAD_IDS = [151_646, 151_647, -1, 2**32, 2**32 + 5, 10**12, 2**63, 2**64 + 1, -(2**63) - 1]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_decode_bad_id(qwen_enc, bad):
    calls = [
        lambda: qwen_enc.decode([100, bad]),
        lambda: qwen_enc.decode_bytes((bad,)),
        lambda: qwen_enc.decode_single_token_bytes(bad),
        lambda: qwen_enc.decode_tokens_bytes([bad]),
        lambda: qwen_enc.decode_batch([[1], [bad]]),
        lambda: qwen_enc.decode_with_offsets([bad]),
    ]
    for call in calls:
        # Catchable as ValueError (qtok's contract) and as KeyError (tiktoken's).
        with pytest.raises(ValueError, match=str(bad)):
            call()
        with pytest.raises(KeyError):
            call()
        with pytest.raises(qtok.InvalidToken):
            call()


@pytest.mark.parametrize("array", [np.array([5, 151_646], dtype=np.uint32),
                                   np.array([5, -1], dtype=np.int64),
                                   np.array([2**40], dtype=np.uint64)], ids=lambda a: a.dtype.name)
def test_decode_bad_id_in_numpy_array(qwen_enc, array):
    with pytest.raises(qtok.InvalidToken, match=str(array[-1])):
        qwen_enc.decode(array)


@pytest.mark.parametrize("call", ["decode_batch", "decode_bytes_batch"])
@pytest.mark.parametrize("bad_row, error", [([7, 151_646], qtok.InvalidToken),
                                            ([7, 1.5], TypeError), (None, TypeError)],
                         ids=["bad id", "float id", "not a sequence"])
def test_batch_decode_error_names_the_row(qwen_enc, call, bad_row, error):
    with pytest.raises(error, match=r"\(row 2 of the batch\)") as info:
        getattr(qwen_enc, call)([[1], [2, 3], bad_row, [4]])
    assert type(info.value) is error
    if error is qtok.InvalidToken:
        assert isinstance(info.value, KeyError) and "151646" in str(info.value)


@pytest.mark.parametrize("call", ["decode_batch", "decode_bytes_batch"])
def test_batch_decode_of_no_batch_names_no_row(qwen_enc, call):
    with pytest.raises(TypeError, match="not iterable") as info:
        getattr(qwen_enc, call)(5)
    assert "row" not in str(info.value)
    # Rows from a generator cannot be read again: the error is the row's own.
    with pytest.raises(qtok.InvalidToken, match="151646"):
        getattr(qwen_enc, call)(row for row in [[1], [151_646]])


def test_invalid_token_message_is_readable(qwen_enc):
    # KeyError's own str() would wrap the message in quotes; qtok's does not.
    with pytest.raises(qtok.InvalidToken) as info:
        qwen_enc.decode([151_646])
    assert str(info.value).startswith("invalid token id 151646")


@pytest.mark.parametrize("item", ["x", None, b"1", [1]], ids=repr)
def test_decode_non_int_id(qwen_enc, item):
    for call in (qwen_enc.decode, qwen_enc.decode_bytes, qwen_enc.decode_tokens_bytes):
        with pytest.raises(TypeError, match=r"\b" + type(item).__name__ + r"\b"):
            call([1, item])
    with pytest.raises(TypeError):
        qwen_enc.decode_single_token_bytes(item)


@pytest.mark.parametrize("tokens", [[1.5], [2, 1.0], np.array([1.5, 2.0])], ids=repr)
def test_decode_float_id(qwen_enc, tokens):
    with pytest.raises(TypeError):
        qwen_enc.decode(tokens)


def test_decode_float_single_token(qwen_enc):
    with pytest.raises(TypeError, match="1.5"):
        qwen_enc.decode_single_token_bytes(1.5)


@pytest.mark.parametrize("tokens", [None, 5], ids=repr)
def test_decode_not_a_sequence(qwen_enc, tokens):
    with pytest.raises(TypeError):
        qwen_enc.decode(tokens)


# -- damaged vocabulary files ------------------------------------------------------------------

def _replace_line(lines: list[bytes], i: int, new: bytes) -> bytes:
    return b"\n".join(lines[:i] + [new] + lines[i + 1:])


# name -> (how to damage the lines of qwen.tiktoken, what the error must say
# without a checksum, or None when only a checksum can tell).
DAMAGE = {
    "truncated_mid_line": (lambda L: b"\n".join(L)[:len(b"\n".join(L)) // 2], "line"),
    "truncated_at_line_end": (lambda L: b"\n".join(L[:100_000]) + b"\n", None),
    "flipped_separator": (lambda L: _replace_line(L, 1000, L[1000].replace(b" ", b"!")), "line 1001"),
    "flipped_base64_char": (lambda L: _replace_line(L, 70_000, bytes([L[70_000][0] ^ 1]) + L[70_000][1:]), None),
    "bad_base64": (lambda L: _replace_line(L, 1000, b"@@@@ 1000"), "line 1001"),
    "rank_missing": (lambda L: _replace_line(L, 1000, L[1000].split()[0]), "line 1001"),
    "rank_empty": (lambda L: _replace_line(L, 1000, L[1000].split()[0] + b" "), "line 1001"),
    "rank_not_a_number": (lambda L: _replace_line(L, 1000, L[1000].split()[0] + b" 1x0"), "line 1001"),
    "rank_line_deleted": (lambda L: b"\n".join(L[:1000] + L[1001:]), None),
    "duplicate_token": (lambda L: _replace_line(L, 1000, L[999].split()[0] + b" 1000"), "two ranks"),
    "duplicate_rank": (lambda L: _replace_line(L, 1000, L[1000].split()[0] + b" 999"), "999"),
    "single_byte_missing": (lambda L: b"\n".join(L[1:]), "single byte"),
    "blank_line": (lambda L: b"\n".join(L[:1000] + [b""] + L[1000:]), None),   # tiktoken takes it
    "empty": (lambda L: b"", "empty"),
    "not_a_vocabulary": (lambda L: bytes(range(256)) * 10, "line 1"),
}


@pytest.fixture(autouse=True)
def private_table_cache(tmp_path, monkeypatch):
    # qtok caches compiled tables (in ~/.cache/qtok by default): keep the
    # vocabularies these tests make out of the user's cache.
    monkeypatch.setenv("QTOK_CACHE_DIR", str(tmp_path / "qtok-cache"))


@pytest.fixture(scope="module")
def vocab_lines(qwen_vocab_file) -> list[bytes]:
    data = qwen_vocab_file.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


#: The damages a parser can see; the others leave a well-formed file.
DETECTABLE = sorted(name for name, (_, expected) in DAMAGE.items() if expected is not None)


def write_damaged(folder: Path, lines: list[bytes], name: str) -> Path:
    path = folder / f"{name}.tiktoken"
    path.write_bytes(DAMAGE[name][0](lines))
    return path


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_file_fails_the_checksum(tmp_path, vocab_lines, damage):
    path = write_damaged(tmp_path, vocab_lines, damage)
    with pytest.raises(qtok.VocabularyError) as info:
        qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS,
                                expected_sha256=qwen.QWEN_SHA256)
    message = str(info.value)
    assert str(path) in message and "sha256" in message and qwen.QWEN_SHA256 in message


@pytest.mark.parametrize("damage", DETECTABLE)
def test_damaged_file_without_checksum(tmp_path, vocab_lines, damage):
    path = write_damaged(tmp_path, vocab_lines, damage)
    with pytest.raises(qtok.VocabularyError) as info:
        qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    assert str(path) in str(info.value)
    assert DAMAGE[damage][1] in str(info.value)


@pytest.mark.parametrize("spacing", ["blank lines", "tabs", "runs of spaces", "crlf", "leading"])
def test_loader_takes_what_tiktoken_takes(tmp_path, vocab_lines, spacing):
    tiktoken_load = pytest.importorskip("tiktoken.load")
    lines = vocab_lines
    data = {
        "blank lines": b"\n".join(lines[:500] + [b"", b""] + lines[500:]) + b"\n\n",
        "tabs": b"\n".join(line.replace(b" ", b"\t") for line in lines),
        "runs of spaces": b"\n".join(line.replace(b" ", b"   ") for line in lines),
        "crlf": b"\r\n".join(lines) + b"\r\n",
        "leading": b"\n".join(b" " + line + b" " for line in lines),
    }[spacing]
    path = tmp_path / "v.tiktoken"
    path.write_bytes(data)
    enc = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    assert enc._mergeable_ranks == tiktoken_load.load_tiktoken_bpe(str(path))
    assert enc.encode("Hello, world!") == [9707, 11, 1879, 0]


@pytest.mark.parametrize("make", ["fifo", "dev_zero", "sparse"])
def test_loader_refuses_what_is_not_a_vocabulary_file_without_reading_it(tmp_path, make):
    if make == "fifo":
        path = tmp_path / "v.tiktoken"
        os.mkfifo(path)
        says = "not a regular file"
    elif make == "dev_zero":
        path, says = Path("/dev/zero"), "not a regular file"
    else:
        path = tmp_path / "big.tiktoken"
        with open(path, "wb") as f:
            f.truncate(2 << 30)                    # 2 GiB, sparse: no disk used
        says = "more than any vocabulary"
    if not path.exists():
        pytest.skip(f"{path} is absent here")
    with pytest.raises(qtok.VocabularyError, match=says):
        qtok.load_tiktoken_file(path, special_tokens={})


def test_loader_fails_at_a_bad_first_line_before_reading_on(tmp_path):
    path = tmp_path / "notes.tiktoken"
    path.write_bytes(b"this is not a vocabulary\n" + b"x" * (8 << 20))
    with pytest.raises(qtok.VocabularyError, match="line 1: expected 'base64-token rank'"):
        qtok.load_tiktoken_file(path, special_tokens={})


def bundle_from(folder: Path, monkeypatch) -> None:
    """Make qtok look for its bundled qwen.tiktoken in ``folder``
    (it reads the file that sits next to qtok/load.py)."""
    monkeypatch.setattr(load, "__file__", str(folder / "load.py"))


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_bundled_file(tmp_path, vocab_lines, damage, monkeypatch):
    # Point the bundled-vocabulary loader at a damaged copy: the checksum
    # it always verifies must stop it, naming the file and the checksum.
    write_damaged(tmp_path, vocab_lines, damage).rename(tmp_path / qwen.QWEN_FILE)
    bundle_from(tmp_path, monkeypatch)
    with pytest.raises(qtok.VocabularyError) as info:
        load.qwen_spec()
    message = str(info.value)
    assert qwen.QWEN_FILE in message and qwen.QWEN_SHA256 in message


def test_missing_bundled_file(tmp_path, monkeypatch):
    bundle_from(tmp_path, monkeypatch)
    with pytest.raises(qtok.VocabularyError, match="reinstall"):
        load.qwen_spec()


def test_line_deleted_loads_like_tiktoken(tmp_path, vocab_lines, tiktoken_ref):
    # Without a checksum a missing line is a legal (gappy) vocabulary, as in
    # tiktoken: the file loads, the missing id is invalid, and qtok still
    # matches tiktoken built from the same ranks.
    from qwen_reference import read_tiktoken_ranks, tiktoken_reference
    path = write_damaged(tmp_path, vocab_lines, "rank_line_deleted")
    enc = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    ref = tiktoken_reference(read_tiktoken_ranks(path))
    missing = int(vocab_lines[1000].split()[1])
    with pytest.raises(qtok.InvalidToken, match=str(missing)):
        enc.decode([missing])
    text = "".join(tiktoken_ref.decode_single_token_bytes(r).decode("utf-8", "replace")
                   for r in range(900, 1100)) + " hello world"
    assert enc.encode(text) == ref.encode(nfc(text))


def test_wrong_checksum(qwen_vocab_file, tmp_path):
    path = tmp_path / "qwen.tiktoken"
    path.write_bytes(qwen_vocab_file.read_bytes())
    wrong = "0" * 64
    with pytest.raises(qtok.VocabularyError) as info:
        qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS, expected_sha256=wrong)
    message = str(info.value)
    assert str(path) in message and wrong in message and qwen.QWEN_SHA256 in message


def test_vocabulary_path_is_a_directory(tmp_path):
    with pytest.raises(qtok.VocabularyError, match="folder") as info:
        qtok.load_tiktoken_file(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_vocabulary_path_is_missing(tmp_path):
    path = tmp_path / "nope.tiktoken"
    with pytest.raises(qtok.VocabularyError, match="no such") as info:
        qtok.load_tiktoken_file(path)
    assert str(path) in str(info.value)
    # VocabularyError is a ValueError, so generic handlers catch it too.
    assert isinstance(info.value, ValueError)


def test_special_token_on_a_regular_rank(qwen_vocab_file, tmp_path):
    path = tmp_path / "qwen.tiktoken"
    path.write_bytes(qwen_vocab_file.read_bytes())
    with pytest.raises(qtok.VocabularyError, match="<\\|x\\|>") as info:
        qtok.load_tiktoken_file(path, special_tokens={"<|x|>": 5})
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content, expected", [
    (b"{not json", "JSON"),
    (b"[1, 2]", "tokenizer.json"),
    (b'{"model": {"type": "WordPiece", "vocab": {}}}', "BPE"),
    (b'{"model": {"type": "BPE", "vocab": {"\\u00ff\\u4e00": 0}}}', "byte-level"),
])
def test_bad_tokenizer_json(tmp_path, content, expected):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(qtok.VocabularyError, match=expected) as info:
        qtok.load_tokenizer_json(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text", [None, b"abc", 5])
def test_split_pieces_wants_a_str(text):
    from qtok._bpe import _split_pieces as split_pieces
    with pytest.raises(TypeError, match="expected str"):
        split_pieces(text)
