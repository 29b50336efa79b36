"""Inputs of any size and shape: long runs, 1M-character strings, 20 MB.

tiktoken 0.14 overflows its stack (and kills the process) on a 1M-character
run of spaces, so it must never see those inputs.  Up to 100K characters it
is safe and is the reference; beyond that the reference is Hugging Face
``tokenizers`` built from the same vocabulary in the Qwen2 layout, after a
check that it agrees with tiktoken on real text.
"""
from __future__ import annotations

import base64
import random

import pytest

from corpus_files import LEIPZIG_FILES, SHARED_CORPORA, file_params, read_lines, synthetic_texts
from qwen_reference import first_mismatch, hf_ids, nfc

MILLION = 1_000_000




def run_of(unit: str, length: int) -> str:
    """``unit`` repeated to ``length`` characters."""
    return (unit * (length // len(unit) + 1))[:length]


def base64_text(length: int) -> str:
    """Random bytes in base64, wrapped at 76 columns as MIME does."""
    raw = base64.b64encode(random.Random(3).randbytes(length * 3 // 4)).decode()
    return "\n".join(raw[i:i + 76] for i in range(0, len(raw), 76))[:length]


def mixed_text(length: int) -> str:
    """A random mix of everything the scanner distinguishes, in short runs."""
    rng = random.Random(4)
    atoms = ["a", "Zz", "é", "中文", " ", "  ", "\n", "\r\n", "\t", "7", "٣", "!", "...", "'s", "'LL",
             "\u3000", "\u0301", "😀", "👍🏽", "<|endoftext|>"]
    parts, size = [], 0
    while size < length:
        part = rng.choice(atoms) * rng.randint(1, 30)
        parts.append(part)
        size += len(part)
    return "".join(parts)[:length]


# name -> a function of the length
SHAPES = {
    "one_letter": lambda n: run_of("a", n),
    "two_byte_letter": lambda n: run_of("é", n),
    "spaces": lambda n: run_of(" ", n),
    "spaces_then_word": lambda n: run_of(" ", n - 1) + "x",
    "word_then_spaces": lambda n: "x" + run_of(" ", n - 1),
    "digits": lambda n: run_of("7", n),
    "newlines": lambda n: run_of("\n", n),
    "cjk": lambda n: run_of("中", n),
    "punctuation": lambda n: run_of("!", n),
    "base64": base64_text,
    "crlf_spaces": lambda n: run_of("\r\n  ", n),
    "tabs": lambda n: run_of("\t", n),
    "ideographic_spaces": lambda n: run_of("\u3000", n),
    "contractions": lambda n: run_of("'s", n),
    "mixed": mixed_text,
}


# -- trusting the second reference -------------------------------------------------------------

def test_hf_matches_tiktoken_on_synthetic_text(hf_ref, tiktoken_ref):
    texts = synthetic_texts(300, seed=11)
    # HF always treats the three special tokens as special; keep them out.
    texts = [t.replace("<|endoftext|>", "<|end") for t in texts]
    want = [tiktoken_ref.encode_ordinary(nfc(t)) for t in texts]
    problem = first_mismatch(texts, hf_ids(hf_ref, texts), want, "HF")
    assert problem is None, problem


@pytest.mark.parametrize("path", file_params(LEIPZIG_FILES, f"{SHARED_CORPORA}/leipzig is absent"))
def test_hf_matches_tiktoken_on_leipzig(hf_ref, tiktoken_ref, path):
    lines = read_lines(path)
    want = [tiktoken_ref.encode_ordinary(nfc(line)) for line in lines]
    problem = first_mismatch(lines, hf_ids(hf_ref, lines), want, "HF")
    assert problem is None, problem


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_hf_matches_tiktoken_on_long_runs(hf_ref, tiktoken_ref, shape):
    # The shapes of the 1M test at a size tiktoken survives: evidence that
    # HF is a valid reference for exactly these inputs.
    text = SHAPES[shape](20_000).replace("<|endoftext|>", "<|end")
    assert hf_ids(hf_ref, [text]) == [tiktoken_ref.encode_ordinary(nfc(text))]


# -- long runs against tiktoken -------------------------------------------------------------------

@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_100k_runs_like_tiktoken(qwen_enc, tiktoken_ref, shape):
    text = SHAPES[shape](100_000)
    want = tiktoken_ref.encode_ordinary(nfc(text))
    assert qwen_enc.encode_ordinary(text) == want
    assert qwen_enc.count(text, disallowed_special=()) == len(want)


# -- 1M characters against HF --------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_million_characters_like_hf(qwen_enc, hf_ref, shape):
    # HF treats "<|endoftext|>" as special: compare as tiktoken's encode
    # with allowed_special="all" would see it.
    text = SHAPES[shape](MILLION)
    assert len(text) == MILLION
    ids = qwen_enc.encode(text, allowed_special="all")
    assert ids == hf_ids(hf_ref, [text])[0]
    assert qwen_enc.decode(ids) == nfc(text)
    assert qwen_enc.count(text, allowed_special="all") == len(ids)


# -- tens of megabytes ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def block() -> str:
    """About 5 MB of multilingual text that starts with a letter and ends with ".\\n".

    At that seam a piece always ends (``.\\n`` closes a punctuation piece,
    a letter cannot join it), so the ids of ``block * k`` are the ids of
    ``block``, k times over; test_seam checks that claim against tiktoken.
    """
    text = "\n".join(synthetic_texts(12_000, seed=5, max_phrases=30))
    text = "Start " + text.replace("<|endoftext|>", "<|end") + ".\n"
    assert 4_000_000 < len(text.encode()) < 7_000_000
    return text


def test_seam(block, tiktoken_ref):
    head, tail = block[:2000], block[-2000:]
    assert tiktoken_ref.encode(tail + head) == tiktoken_ref.encode(tail) + tiktoken_ref.encode(head)


@pytest.mark.slow
def test_five_megabytes_like_tiktoken(qwen_enc, tiktoken_ref, block):
    assert qwen_enc.encode(block) == tiktoken_ref.encode(nfc(block))


@pytest.mark.slow
def test_twenty_megabytes(qwen_enc, qwen_enc_raw, block):
    # Mostly without NFC: Python's unicodedata needs ~1 s per 20 MB pass,
    # which would measure the normalizer rather than qtok.
    ids = qwen_enc_raw.encode(block)
    big = block * 4
    assert len(big.encode()) > 16_000_000
    assert qwen_enc_raw.encode(big) == ids * 4
    assert qwen_enc_raw.count(big) == 4 * len(ids)
    array = qwen_enc_raw.encode_to_numpy(big)
    assert array.shape == (4 * len(ids),) and array[-len(ids):].tolist() == ids
    assert qwen_enc_raw.decode_bytes(array) == big.encode()
    assert qwen_enc.count(big) == 4 * qwen_enc.count(block)


def test_many_special_tokens(qwen_enc, tiktoken_ref):
    # 50K allowed special tokens in 600K characters: finding them must not
    # rescan the text for every match (that was quadratic, ~20 s at 1M).
    text = "a<|im_end|>b " * 50_000
    want = tiktoken_ref.encode(text, allowed_special="all")
    assert qwen_enc.encode(text, allowed_special="all") == want
    assert qwen_enc.encode(text, allowed_special={"<|im_end|>"}) == want
    assert qwen_enc.encode_batch([text], allowed_special="all") == [want]
