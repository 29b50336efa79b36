"""Encoding throughput on the corpus: whole files, line by line, batches,
numpy vs list, counting.

qtok runs twice: with ``normalization=None`` on the pre-normalized corpus,
which is the same work tiktoken does (apples to apples), and with its default
NFC step, which is what a user of ``get_encoding("qwen")`` pays.  Every
benchmark also checks that the ids equal tiktoken's, so a fast wrong answer
fails instead of looking good.
"""
from __future__ import annotations

import numpy as np
import pytest

import references as ref
from encoders import PEERS, SIDE_BY_SIDE, WITH_BATCH

# HF tokenizers has encode_batch too, but its thread count is set only by an
# environment variable read once per process, so it can't do 1 vs 2 here.


# The peers (when installed) join the whole-file, line and count groups; one
# that differs from tiktoken is listed with how many files or lines differ.
@pytest.mark.parametrize("key", SIDE_BY_SIDE + PEERS)
def test_whole_files(measure, load_encoder, key, files, corpus_bytes, expected_files):
    enc = load_encoder(key)
    measure(lambda: [enc.encode(t) for t in files], corpus_bytes,
            group="encode: whole files", encoder=key, expected=expected_files, what="files")


@pytest.mark.parametrize("key", SIDE_BY_SIDE + PEERS)
def test_line_by_line(measure, load_encoder, key, lines, corpus_bytes, expected_lines):
    # One call per line: the per-call overhead is part of what is measured.
    enc = load_encoder(key)
    measure(lambda: [enc.encode(t) for t in lines], corpus_bytes,
            group="encode: line by line", encoder=key, expected=expected_lines, what="lines")


@pytest.mark.parametrize("strs", ["same", "new"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("key", WITH_BATCH)
def test_batch(measure, load_encoder, key, threads, strs, docs, corpus_bytes, expected_docs):
    # encode_ordinary_batch over ~9 KB documents (64 lines each): the same
    # str objects every round, or new ones (references.new_str_objects).
    enc = load_encoder(key)
    if strs == "same":
        texts, variant = (lambda: (docs,)), ""
    else:
        texts, variant = (lambda: (ref.new_str_objects(docs),)), ", new str objects"
    ids = measure(lambda given: enc.batch(given, threads), corpus_bytes,
                  group="encode_ordinary_batch", encoder=key, setup=texts,
                  variant=f"{threads} thread{'s' * (threads > 1)}{variant}")
    assert ids == expected_docs


@pytest.mark.parametrize("kind", ["list", "numpy"])
@pytest.mark.parametrize("key", WITH_BATCH)
def test_numpy_vs_list(measure, load_encoder, key, kind, files, corpus_bytes, expected_files):
    # encode() and encode_to_numpy() both check for special tokens, so the only
    # difference between the two is the container the ids land in.
    enc = load_encoder(key)
    fn = enc.encode_checked if kind == "list" else enc.encode_numpy
    out = measure(lambda: [fn(t) for t in files], corpus_bytes, group="encode: list vs numpy",
                  encoder=key, variant=kind)
    if kind == "numpy":
        assert all(isinstance(a, np.ndarray) for a in out)
    assert [list(map(int, a)) for a in out] == expected_files


@pytest.mark.parametrize("key", WITH_BATCH + PEERS)
def test_count(measure, load_encoder, key, files, corpus_bytes, expected_files):
    # tiktoken has no counter: len(encode_ordinary(text)) is what its users write.
    enc = load_encoder(key)
    if enc.count is None:
        pytest.skip(f"{key} has no count")
    measure(lambda: [enc.count(t) for t in files], corpus_bytes, group="count", encoder=key,
            expected=[len(ids) for ids in expected_files], what="files")
