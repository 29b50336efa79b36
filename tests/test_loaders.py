"""Every way of loading the Qwen vocabulary gives the same ids.

The Hugging Face files are written by the tests from the ranks (see
qwen_reference.py) in the layout of a Qwen2 checkpoint, so this checks that
a user pointing qtok at ``Qwen/Qwen2-*/tokenizer.json`` gets the bundled
encoding's behaviour.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import qtok
from corpus_files import synthetic_texts
from qwen_reference import QWEN_PATTERN

TRICKY = ["e\u0301 caf\u00e9", "don'T I'LL 'ſ", "  \n\n  x", "1,234.56 ٣٤", "👨\u200d👩\u200d👧 🇯🇵",
          "<|endoftext|>x<|im_start|>user\nhi<|im_end|>", "\r\n\r\n  \t"]


@pytest.fixture(autouse=True)
def private_table_cache(tmp_path, monkeypatch) -> Path:
    """qtok caches compiled tables (~/.cache/qtok by default); give each test its own folder."""
    folder = tmp_path / "qtok-cache"
    monkeypatch.setenv("QTOK_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return synthetic_texts(200, seed=7) + TRICKY


def assert_same_as_bundled(enc: qtok.Encoding, reference: qtok.Encoding, texts: list[str]) -> None:
    assert enc.n_vocab == reference.n_vocab
    assert enc.special_tokens_set == reference.special_tokens_set
    assert enc.encode_batch(texts, allowed_special="all") == reference.encode_batch(texts, allowed_special="all")
    assert enc.encode_ordinary_batch(texts) == reference.encode_ordinary_batch(texts)
    ids = reference.encode(texts[-1], allowed_special="all")
    assert enc.decode(ids) == reference.decode(ids)


def test_tiktoken_file_copy(tmp_path, qwen_vocab_file, qwen_enc, texts):
    path = tmp_path / "copy.tiktoken"
    shutil.copyfile(qwen_vocab_file, path)
    enc = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    assert_same_as_bundled(enc, qwen_enc, texts)
    assert enc.name == "copy.tiktoken"
    checked = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS,
                                      expected_sha256=qtok.qwen.QWEN_SHA256.upper())
    assert_same_as_bundled(checked, qwen_enc, texts[:20])


def test_tiktoken_file_with_crlf_line_ends(tmp_path, qwen_vocab_file, qwen_enc, texts):
    # A file that went through a Windows checkout is still the same vocabulary.
    path = tmp_path / "crlf.tiktoken"
    path.write_bytes(qwen_vocab_file.read_bytes().replace(b"\n", b"\r\n"))
    enc = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    assert_same_as_bundled(enc, qwen_enc, texts)


def test_tiktoken_file_without_specials(tmp_path, qwen_vocab_file, qwen_enc):
    path = tmp_path / "plain.tiktoken"
    shutil.copyfile(qwen_vocab_file, path)
    enc = qtok.load_tiktoken_file(path)
    assert enc.special_tokens_set == set() and enc.n_vocab == 151_643
    # Nothing is special, so the marker is plain text everywhere.
    text = "a<|endoftext|>b"
    assert enc.encode(text) == qwen_enc.encode_ordinary(text)


def test_tiktoken_file_normalization_off(tmp_path, qwen_vocab_file, qwen_enc_raw):
    path = tmp_path / "raw.tiktoken"
    shutil.copyfile(qwen_vocab_file, path)
    enc = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS, normalization=None)
    assert enc.encode("e\u0301") == qwen_enc_raw.encode("e\u0301")


@pytest.fixture(scope="module")
def from_tokenizer_json(qwen2_files) -> qtok.Encoding:
    return qtok.load_tokenizer_json(qwen2_files["tokenizer.json"])


@pytest.fixture(scope="module")
def from_vocab_merges(qwen2_files) -> qtok.Encoding:
    return qtok.load_vocab_merges(qwen2_files["vocab.json"], qwen2_files["merges.txt"])


def test_tokenizer_json(from_tokenizer_json, qwen_enc, texts):
    assert_same_as_bundled(from_tokenizer_json, qwen_enc, texts)
    # The normalizer in the file is NFC, and qtok takes it from there.
    assert from_tokenizer_json.normalization == "NFC"
    assert from_tokenizer_json.encode("e\u0301") == qwen_enc.encode("e\u0301")


def test_tokenizer_json_folder(qwen2_files, qwen_enc, texts):
    enc = qtok.load_tokenizer_json(qwen2_files["tokenizer.json"].parent)
    assert_same_as_bundled(enc, qwen_enc, texts[:20])


def test_tokenizer_json_with_string_merges_and_no_normalizer(tmp_path, qwen2_files, qwen_enc_raw):
    # Older files (Qwen2's own among them) spell merges as "a b" strings;
    # without a normalizer qtok must not apply NFC.
    doc = json.loads(qwen2_files["tokenizer.json"].read_text(encoding="utf-8"))
    doc["model"]["merges"] = [" ".join(pair) if isinstance(pair, list) else pair
                              for pair in doc["model"]["merges"]]
    doc["normalizer"] = None
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    enc = qtok.load_tokenizer_json(path)
    assert enc.normalization is None
    assert enc.encode("e\u0301 x") == qwen_enc_raw.encode("e\u0301 x")


def test_tokenizer_json_with_other_pattern_is_refused(tmp_path, qwen2_files):
    # The pre-tokenizer of the real file, with its regex changed, around a
    # tiny vocabulary: the pattern is checked before the vocabulary is read.
    pre_tokenizer = json.loads(qwen2_files["tokenizer.json"].read_text(encoding="utf-8"))["pre_tokenizer"]
    split = pre_tokenizer["pretokenizers"][0]
    assert split["pattern"]["Regex"] == QWEN_PATTERN
    split["pattern"]["Regex"] = r"\w+|\s+"
    doc = {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": pre_tokenizer}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(qtok.VocabularyError, match="pattern") as info:
        qtok.load_tokenizer_json(path)
    assert str(path) in str(info.value)


def test_vocab_json_and_merges_txt(from_vocab_merges, qwen2_files, qwen_enc, texts):
    assert_same_as_bundled(from_vocab_merges, qwen_enc, texts)
    vocab_only = qtok.load_vocab_merges(qwen2_files["vocab.json"])
    assert_same_as_bundled(vocab_only, qwen_enc, texts[:20])


def test_bad_merges_txt(tmp_path, qwen2_files):
    merges = tmp_path / "merges.txt"
    merges.write_text("#version: 0.2\nĠ t\nthree parts here\n", encoding="utf-8")
    with pytest.raises(qtok.VocabularyError, match="line 3") as info:
        qtok.load_vocab_merges(qwen2_files["vocab.json"], merges)
    assert str(merges) in str(info.value)


@pytest.mark.parametrize("loader", ["tiktoken_file", "tokenizer_json", "vocab_merges"])
def test_loaded_encodings_pickle_small(request, loader, tmp_path, qwen_vocab_file, qwen_enc, texts):
    if loader == "tiktoken_file":
        path = tmp_path / "copy.tiktoken"
        shutil.copyfile(qwen_vocab_file, path)
        enc = qtok.load_tiktoken_file(path, special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    else:
        enc = request.getfixturevalue(f"from_{loader}")
    data = pickle.dumps(enc)
    assert len(data) < 2000, f"pickle is {len(data)} bytes: it should hold a path, not the vocabulary"
    assert_same_as_bundled(pickle.loads(data), qwen_enc, texts[:50])


# -- the compiled table cache -----------------------------------------------------------------

def load_copy(folder: Path, vocab_file: Path, specials=qtok.QWEN_SPECIAL_TOKENS) -> qtok.Encoding:
    path = folder / "copy.tiktoken"
    if not path.exists():
        shutil.copyfile(vocab_file, path)
    return qtok.load_tiktoken_file(path, special_tokens=specials)


def test_table_cache_is_written_and_reused(tmp_path, private_table_cache, qwen_vocab_file, qwen_enc, texts):
    load_copy(tmp_path, qwen_vocab_file)
    caches = sorted(private_table_cache.iterdir())
    assert len(caches) == 1, caches
    assert_same_as_bundled(load_copy(tmp_path, qwen_vocab_file), qwen_enc, texts)
    # Other special tokens make other tables, never a stale hit.
    other = load_copy(tmp_path, qwen_vocab_file, specials={"<|endoftext|>": 151643})
    assert other.special_tokens_set == {"<|endoftext|>"} and other.n_vocab == 151_644
    assert len(list(private_table_cache.iterdir())) == 2


def test_cache_files_of_other_layouts_are_removed(tmp_path, private_table_cache, qwen_vocab_file):
    # A file left by an older qtok, for the same vocabulary, and one for another vocabulary.
    load_copy(tmp_path, qwen_vocab_file)
    (cache,) = private_table_cache.iterdir()
    version, digest = cache.name.split("-")[1:3]
    old = private_table_cache / f"tables-v1-{digest}"
    unrelated = private_table_cache / f"tables-v1-{'0' * 24}.bin"
    old.write_bytes(b"left by an older qtok")
    unrelated.write_bytes(b"another vocabulary")
    cache.unlink()
    load_copy(tmp_path, qwen_vocab_file)            # rebuilds and writes the cache again
    assert sorted(p.name for p in private_table_cache.iterdir()) == sorted([cache.name, unrelated.name])


@pytest.mark.parametrize("damage", ["truncated", "flipped_byte", "empty", "garbage", "token_length"])
def test_damaged_table_cache_is_rebuilt(tmp_path, private_table_cache, qwen_vocab_file, qwen_enc, texts,
                                        damage):
    load_copy(tmp_path, qwen_vocab_file)
    (cache,) = private_table_cache.iterdir()
    good = cache.read_bytes()
    bad = {"truncated": good[:len(good) // 2],
           "flipped_byte": good[:len(good) // 2] + bytes([good[len(good) // 2] ^ 0x40]) + good[len(good) // 2 + 1:],
           "empty": b"",
           "garbage": b"not a cache" * 1000,
           # the header's longest-token field (not covered by the payload checksum)
           "token_length": good[:24] + (1000).to_bytes(8, "little") + good[32:]}[damage]
    cache.write_bytes(bad)
    assert_same_as_bundled(load_copy(tmp_path, qwen_vocab_file), qwen_enc, texts)
    assert cache.read_bytes() == good, "the damaged cache should have been replaced"


SWAPPED_CACHE = r"""
import os, sys
import qtok
from qtok import table_cache
# A valid cache of another vocabulary (two tokens' ranks swapped), put where
# the bundled vocabulary's cache goes: it must not be loaded.
vocab = open(os.path.join(os.path.dirname(qtok.__file__), "qwen.tiktoken"), "rb").read().split(b"\n")
a, b = vocab[0].split(b" ")[0], vocab[9707].split(b" ")[0]
vocab[0], vocab[9707] = a + b" 9707", b + b" 0"
with open(sys.argv[1] + "/swapped.tiktoken", "wb") as f:
    f.write(b"\n".join(vocab))
swapped = qtok.load_tiktoken_file(sys.argv[1] + "/swapped.tiktoken", special_tokens=qtok.QWEN_SPECIAL_TOKENS)
assert swapped.encode("Hello, world!")[0] == 0
(made,) = [n for n in os.listdir(os.environ["QTOK_CACHE_DIR"])]
target = table_cache.cache_path(qtok.qwen.QWEN_SHA256, qtok.QWEN_SPECIAL_TOKENS)
os.replace(os.path.join(os.environ["QTOK_CACHE_DIR"], made), target)
"""

BUNDLED_ENCODE = "import qtok; print(qtok.get_encoding('qwen').encode('Hello, world!'))"


def test_a_valid_cache_of_another_vocabulary_is_not_trusted(tmp_path):
    env = dict(os.environ, QTOK_CACHE_DIR=str(tmp_path / "cache"))
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120, env=env)
    done = run([sys.executable, "-c", SWAPPED_CACHE, str(tmp_path)])
    assert done.returncode == 0, done.stderr
    done = run([sys.executable, "-c", BUNDLED_ENCODE])
    assert done.returncode == 0 and done.stdout.strip() == "[9707, 11, 1879, 0]", done.stderr


def test_a_fifo_at_the_cache_path_does_not_hang(tmp_path):
    from qtok import table_cache
    folder = tmp_path / "cache"
    folder.mkdir()
    env = dict(os.environ, QTOK_CACHE_DIR=str(folder))
    done = subprocess.run([sys.executable, "-c", "from qtok import table_cache, qwen, QWEN_SPECIAL_TOKENS;"
                           "print(table_cache.cache_path(qwen.QWEN_SHA256, QWEN_SPECIAL_TOKENS))"],
                          capture_output=True, text=True, timeout=60, env=env)
    os.mkfifo(done.stdout.strip())
    done = subprocess.run([sys.executable, "-c", BUNDLED_ENCODE], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "[9707, 11, 1879, 0]", done.stderr
    assert table_cache.cache_dir() is not None


def test_a_cache_of_another_build_is_refused(tmp_path, private_table_cache, qwen_vocab_file):
    from qtok._bpe import CoreBPE
    from qtok import table_cache
    load_copy(tmp_path, qwen_vocab_file)
    (cache,) = private_table_cache.iterdir()
    data = bytearray(cache.read_bytes())
    digest = table_cache.source_digest(hashlib.sha256(qwen_vocab_file.read_bytes()).hexdigest(),
                                       qtok.QWEN_SPECIAL_TOKENS)
    assert bytes(data[96:128]) == digest                  # the digest is inside the file
    data[128] ^= 1                                         # another build's id
    cache.write_bytes(bytes(data))
    with open(cache, "rb") as f, pytest.raises(ValueError, match="another qtok build"):
        CoreBPE.from_cache_file(f.fileno(), str(cache), qtok.QWEN_SPECIAL_TOKENS, digest)
    with open(cache, "rb") as f, pytest.raises(ValueError, match="another vocabulary"):
        CoreBPE.from_cache_file(f.fileno(), str(cache), qtok.QWEN_SPECIAL_TOKENS, bytes(32))


def test_table_cache_off(tmp_path, monkeypatch, qwen_vocab_file, qwen_enc, texts):
    monkeypatch.setenv("QTOK_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert_same_as_bundled(load_copy(tmp_path, qwen_vocab_file), qwen_enc, texts[:20])
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "home").exists()


def test_table_cache_folder_not_writable(tmp_path, monkeypatch, qwen_vocab_file, qwen_enc, texts):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("QTOK_CACHE_DIR", str(blocker / "cache"))
    assert_same_as_bundled(load_copy(tmp_path, qwen_vocab_file), qwen_enc, texts[:20])
