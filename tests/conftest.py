"""Session fixtures shared by the test suite.

Names are prefixed (``qwen_``, ``tiktoken_ref``, ``hf_ref``, ``shared_corpora``)
because several test modules written by different people share this file.

The references are built once per session from the bundled vocabulary file:
tiktoken takes ~0.5 s, the HF reference ~5 s (deriving the merges list is
pure Python), so only the modules that ask for ``hf_ref`` / ``qwen2_files``
pay for it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import qtok
from corpus_files import SHARED_CORPORA
from qwen_reference import build_merges, read_tiktoken_ranks, tiktoken_reference, write_qwen2_files

#: The vocabulary qtok ships, wherever qtok is imported from.
QWEN_VOCAB_FILE = Path(qtok.__file__).resolve().parent / "qwen.tiktoken"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes seconds (all-code-point walk, 1M-character inputs); "
        "runs by default, deselect with -m 'not slow'")


@pytest.fixture(scope="session")
def qwen_enc() -> qtok.Encoding:
    """The encoding under test, NFC on (the default)."""
    return qtok.get_encoding("qwen")


@pytest.fixture(scope="session")
def qwen_enc_raw() -> qtok.Encoding:
    """The encoding under test with normalization off: the scanner sees the text as given."""
    return qtok.get_encoding("qwen", normalization=None)


@pytest.fixture
def threads():
    """qtok.set_num_threads, with the default number of threads for a long
    text put back after the test."""
    before = qtok.get_num_threads()
    yield qtok.set_num_threads
    qtok.set_num_threads(before)


@pytest.fixture(scope="session")
def qwen_vocab_file() -> Path:
    return QWEN_VOCAB_FILE


@pytest.fixture(scope="session")
def qwen_ranks() -> dict[bytes, int]:
    """token bytes -> rank, parsed from the bundled file by the tests' own parser."""
    return read_tiktoken_ranks(QWEN_VOCAB_FILE)


@pytest.fixture(scope="session")
def tiktoken_ref(qwen_ranks):
    """tiktoken built from the same ranks, pattern and special tokens (no NFC)."""
    return tiktoken_reference(qwen_ranks)


@pytest.fixture(scope="session")
def qwen_merges(qwen_ranks) -> list[tuple[bytes, bytes]]:
    return build_merges(qwen_ranks)


@pytest.fixture(scope="session")
def qwen2_files(tmp_path_factory, qwen_ranks, qwen_merges) -> dict[str, Path]:
    """tokenizer.json, vocab.json and merges.txt in the Qwen2 layout, in a session temp dir."""
    pytest.importorskip("tokenizers")       # writes tokenizer.json through its API
    return write_qwen2_files(tmp_path_factory.mktemp("qwen2"), qwen_ranks, qwen_merges)


@pytest.fixture(scope="session")
def hf_ref(qwen2_files):
    """HF tokenizers loaded from the written tokenizer.json: the second reference."""
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(qwen2_files["tokenizer.json"]))


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """The test corpora ($QTOK_TEST_CORPORA, else ../shared/corpora); skips the test when absent."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"{SHARED_CORPORA} is absent")
    return SHARED_CORPORA
