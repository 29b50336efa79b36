"""qtok's ids equal tiktoken's on real text, line by line and file by file.

tiktoken is built from the same file, pattern and special tokens; it does
no normalization, so it is given NFC text, which is what qtok feeds its
core by default.  The raw (non-NFC) text is also checked against qtok with
normalization off, which puts decomposed sequences through the scanner.
"""
from __future__ import annotations

import random

import pytest

from corpus_files import (BUNDLED_FILES, LEIPZIG_FILES, SHARED_CORPORA, UDHR_FILES, file_params,
                          read_lines, read_text, udhr_segments)
from qtok._bpe import _split_pieces as split_pieces, _token_filter_admits
from qwen_reference import first_mismatch, first_piece_difference, nfc, pattern_pieces




def check_texts(qwen_enc, qwen_enc_raw, tiktoken_ref, texts: list[str]) -> None:
    """Every text, through single and batch calls, NFC on and off."""
    want = [tiktoken_ref.encode_ordinary(nfc(t)) for t in texts]
    problem = first_mismatch(texts, [qwen_enc.encode_ordinary(t) for t in texts], want, "encode_ordinary")
    assert problem is None, problem
    # The batch runs on native threads; same answer expected.
    problem = first_mismatch(texts, qwen_enc.encode_ordinary_batch(texts, num_threads=2), want,
                             "encode_ordinary_batch")
    assert problem is None, problem

    raw = [t for t in texts if nfc(t) != t]      # the others were just checked
    if raw:
        want_raw = [tiktoken_ref.encode_ordinary(t) for t in raw]
        problem = first_mismatch(raw, [qwen_enc_raw.encode_ordinary(t) for t in raw], want_raw,
                                 "qtok without NFC")
        assert problem is None, problem


@pytest.mark.parametrize("path", file_params(LEIPZIG_FILES, f"{SHARED_CORPORA}/leipzig is absent"))
def test_leipzig_lines(path, qwen_enc, qwen_enc_raw, tiktoken_ref):
    lines = read_lines(path)
    assert lines, f"{path} is empty"
    check_texts(qwen_enc, qwen_enc_raw, tiktoken_ref, lines)


@pytest.mark.parametrize("path", file_params(LEIPZIG_FILES, f"{SHARED_CORPORA}/leipzig is absent"))
def test_leipzig_whole_file(path, qwen_enc, qwen_enc_raw, tiktoken_ref):
    # A whole file crosses line ends, so "\n" joins pieces here as it never
    # does within one line.
    check_texts(qwen_enc, qwen_enc_raw, tiktoken_ref, [read_text(path)])


@pytest.mark.parametrize("path", file_params(UDHR_FILES, f"{SHARED_CORPORA}/udhr is absent"))
def test_udhr(path, qwen_enc, qwen_enc_raw, tiktoken_ref):
    segments = udhr_segments(path)
    assert segments, f"no text found in {path}"
    # Each paragraph, the running text as one document, and the XML file
    # itself (indentation runs, markup and newlines).
    check_texts(qwen_enc, qwen_enc_raw, tiktoken_ref,
                segments + ["\n".join(segments), read_text(path)])


@pytest.mark.parametrize("path", file_params(BUNDLED_FILES, "the project has no corpora/*.txt"))
def test_bundled_corpus(path, qwen_enc, qwen_enc_raw, tiktoken_ref):
    text = read_text(path)
    check_texts(qwen_enc, qwen_enc_raw, tiktoken_ref, read_lines(path) + [text])


def test_every_short_token_as_text(qwen_enc_raw, qwen_ranks, tiktoken_ref):
    # Every token of 2..16 bytes that is text on its own, encoded as text:
    # most are one piece, which must come out whole, as tiktoken's does.
    texts = []
    for token in qwen_ranks:
        if 2 <= len(token) <= 16:
            try:
                texts.append(token.decode("utf-8"))
            except UnicodeDecodeError:
                pass
    assert len(texts) > 100_000
    want = [tiktoken_ref.encode_ordinary(t) for t in texts]
    assert sum(len(ids) == 1 for ids in want) > 100_000
    problem = first_mismatch(texts, [qwen_enc_raw.encode_ordinary(t) for t in texts], want,
                             "encode_ordinary")
    assert problem is None, problem


def test_token_filter_admits_every_short_token(qwen_enc_raw, qwen_ranks):
    # A piece of 2..16 bytes is looked up in the token hash only when the
    # token filter lets it through (token_maybe in native/tables.pxi).  A token it
    # refused would be merged instead, which gives the token itself for most
    # tokens but not all -- so check the filter directly: it must admit
    # every token, and should refuse most pieces that are not tokens.
    core = qwen_enc_raw._core
    refused = [t for t in qwen_ranks if 2 <= len(t) <= 16 and not _token_filter_admits(core, t)]
    assert not refused, refused[:5]
    rng = random.Random(5)
    others = {bytes(rng.randrange(97, 123) for _ in range(rng.randrange(5, 17)))
              for _ in range(20_000)} - set(qwen_ranks)
    admitted = sum(_token_filter_admits(core, p) for p in others)
    assert admitted < 0.1 * len(others), f"{admitted} of {len(others)} non-tokens let through"


def test_every_id_decodes_to_its_bytes(qwen_enc_raw, tiktoken_ref):
    # Tokens of up to 7 bytes are decoded from their 8-byte decode word,
    # longer ones (and the control tokens) from the blob: every id, alone,
    # and all of them back to back, where each 8-byte store of a short token
    # must leave the bytes before it intact.
    n = qwen_enc_raw.n_vocab
    want = [tiktoken_ref.decode_single_token_bytes(i) for i in range(n)]
    assert {len(b) for b in want} >= {1, 7, 8, 9, 16}
    assert [qwen_enc_raw.decode_bytes([i]) for i in range(n)] == want
    ids = list(range(n))
    random.Random(7).shuffle(ids)
    assert qwen_enc_raw.decode_bytes(ids) == b"".join(want[i] for i in ids)


def test_letter_runs_read_eight_bytes_at_a_time():
    # The scanner skips runs of ASCII letters a word (8 bytes) at a time
    # (skip_letters in native/scanner.pxi).  Put every ASCII character, and letters
    # and non-letters beyond ASCII, at each place of such a word, with the
    # text ending inside the word or just after it.  Pieces are compared,
    # not ids: a wrong cut inside a word often merges to the same ids.
    odd = ["é", "ß", "ж", "中", "ǅ", "\u00a0", "·", "\u2028", "\u0301", "😀"]
    texts = []
    for c in [chr(b) for b in range(128)] + odd:
        for before in range(10):
            for after in range(0, 12, 3):
                for end in ("", "!", " x", "z"):
                    texts.append(" " + "abcdefghiJ"[:before] + c + "KLmnopqrstu"[:after] + end)
    bad = [t for t in texts if split_pieces(t) != pattern_pieces(t)]
    assert not bad, [(t, split_pieces(t), pattern_pieces(t)) for t in bad[:3]]


@pytest.mark.parametrize("path", file_params(BUNDLED_FILES + LEIPZIG_FILES, "no corpus files"))
def test_pieces_of_whole_files(path):
    # The scanner against the pattern itself, on every file: ids can hide
    # a wrong cut, pieces cannot.
    text = nfc(read_text(path))
    difference = first_piece_difference(split_pieces(text), pattern_pieces(text))
    assert difference is None, difference
