"""The report measures tokenizers of every kind exactly: small real ones,
trained here with `tokenizers` (BPE, Unigram) and `sentencepiece` (Unigram,
BPE) on the test corpora's UDHR text (the bundled corpus when those are
absent), each checked against its own library's encoder.

For each tokenizer and language the report's tokens must equal the library's
ids without special tokens, its fragments the tokens that are part of a
character, and its continued words those a reference walk over the
library's own offsets finds (a token belongs to the word its first byte is in).
"""
from __future__ import annotations

import io
import re

import pytest

from qwen_reference import nfc
from qtok.analysis.corpora import load_corpus
from qtok.compression import compression_report, load_corpora

LANGS = ("en", "de", "ru", "zh", "ar", "hi")


@pytest.fixture(scope="module")
def corpus():
    from corpus_files import SHARED_CORPORA
    udhr = SHARED_CORPORA / "udhr"
    source = load_corpus(udhr) if udhr.is_dir() else load_corpora(None)
    return source.select([c for c in LANGS if c in source.documents])


@pytest.fixture(scope="module")
def training_text(corpus):
    return [nfc(d) for docs in corpus.documents.values() for d in docs]


def report(corpus, spec: str):
    rows = compression_report(corpus, compare=[f"t={spec}"])
    return {r["code"]: r for r in rows if r["tokenizer"] == "t"}


def continued_reference(docs: list[str], starts: list[list[int]]) -> tuple[int, int]:
    """(words, words of two or more tokens), from each token's byte offset."""
    words = continued = 0
    for doc, token_starts in zip(docs, starts):
        ends = [len(doc[:m.end()].encode("utf-8")) for m in re.finditer(r"\S+", doc)]
        words += len(ends)
        per_word = [0] * len(ends)
        for pos in token_starts:
            k = next((i for i, end in enumerate(ends) if end > pos), None)
            if k is not None:
                per_word[k] += 1
        continued += sum(n >= 2 for n in per_word)
    return words, continued


def check_against(corpus, rows, encode, byte_starts, is_fragment_id) -> None:
    assert set(rows) == set(corpus.documents)
    for code, row in rows.items():
        docs = [nfc(d) for d in corpus.documents[code]]
        ids = encode(docs)
        assert row["tokens"] == sum(map(len, ids)), code
        assert row["distinct_ids"] == len({i for doc in ids for i in doc}), code
        frags = sum(is_fragment_id(i) for doc in ids for i in doc)
        assert row["fragment_share"] == pytest.approx(frags / row["tokens"]), code
        if row["words"] is not None:
            assert (row["words"], row["continued_words"]) == continued_reference(
                docs, byte_starts(docs)), code
    assert any(r["continued_words"] for r in rows.values())


def _byte_offsets(doc: str, char_offsets) -> list[int]:
    return [len(doc[:s].encode("utf-8")) for s, _ in char_offsets]


# -- Hugging Face tokenizers: BPE (byte-level) and Unigram (Metaspace) ----------------------

def _hf_trained(kind: str, texts: list[str]):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<s>", "</s>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=1200, special_tokens=["<s>", "</s>", "<unk>"],
                                          unk_token="<unk>")
    tok.train_from_iterator(texts, trainer)
    # A template that would add BOS/EOS: the report must not count them.
    from tokenizers import processors
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")),
                                              ("</s>", tok.token_to_id("</s>"))])
    return tok


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_a_trained_hf_tokenizer_is_measured_exactly(kind, corpus, training_text, tmp_path):
    tok = _hf_trained(kind, training_text)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    rows = report(corpus, str(path))
    assert len(tok.encode("a", add_special_tokens=True).ids) > len(tok.encode("a", add_special_tokens=False).ids)
    vocab = {i: t for t, i in tok.get_vocab(with_added_tokens=True).items()}

    def is_fragment(i: int) -> bool:
        if kind != "bpe":
            return False              # Unigram pieces are whole characters
        from qtok.load import byte_level_alphabet
        alphabet = byte_level_alphabet()
        data = bytes(alphabet[ch] for ch in vocab[i])
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    def encode(docs):
        return [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)]

    def starts(docs):
        return [_byte_offsets(d, e.offsets) for d, e in
                zip(docs, tok.encode_batch(docs, add_special_tokens=False))]
    check_against(corpus, rows, encode, starts, is_fragment)
    for row in rows.values():
        assert row["vocab_size"] == tok.get_vocab_size(with_added_tokens=True)


# -- SentencePiece .model files ------------------------------------------------------------------

def _spm_trained(kind: str, texts: list[str]) -> bytes:
    spm = pytest.importorskip("sentencepiece")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model,
                                   vocab_size=2000, model_type=kind, byte_fallback=True,
                                   character_coverage=0.98, minloglevel=2, num_threads=2,
                                   hard_vocab_limit=False)   # a small corpus may hold fewer pieces
    return model.getvalue()


def _spm_starts(sp, docs):
    try:
        protos = sp.encode(docs, out_type="immutable_proto")
    except ValueError:
        protos = sp.encode(docs, return_type="proto")
    return [[p.begin for p in proto.pieces] for proto in protos]


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_a_trained_sentencepiece_model_is_measured_exactly(kind, corpus, training_text, tmp_path):
    import sentencepiece as spm
    path = tmp_path / f"{kind}.model"
    path.write_bytes(_spm_trained(kind, training_text))
    sp = spm.SentencePieceProcessor(model_file=str(path))
    rows = report(corpus, str(path))

    def is_fragment(i: int) -> bool:
        # Byte-fallback pieces of a multi-byte character's bytes.
        return sp.is_byte(i) and int(sp.id_to_piece(i)[3:5], 16) >= 0x80

    check_against(corpus, rows, lambda docs: sp.encode(docs, out_type=int),
                  lambda docs: _spm_starts(sp, docs), is_fragment)
    for row in rows.values():
        assert row["vocab_size"] == sp.get_piece_size()
    # character_coverage=0.98 leaves the rarest characters (Chinese ones) to byte fallback.
    assert rows["zh"]["fragment_share"] > 0


def test_sentencepiece_errors(tmp_path):
    from qtok.analysis.backends import resolve
    from qtok.errors import BackendError
    bad = tmp_path / "broken.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="not a SentencePiece model"):
        resolve(str(bad))
    with pytest.raises(BackendError, match="no such file"):
        resolve(str(tmp_path / "missing.model"))


def test_sentencepiece_missing_says_what_to_install(tmp_path, monkeypatch):
    import sys
    from qtok.analysis.backends import resolve
    from qtok.errors import BackendError
    path = tmp_path / "x.model"
    path.write_bytes(b"\0")
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(BackendError, match=r"pip install 'qtok\[spm\]'"):
        resolve(str(path))


# -- Qwen generations side by side ------------------------------------------------------------

def test_qwen_generations_side_by_side():
    rows = compression_report(compare=["qwen1", "qwen3"], langs="en,zh")
    names = list(dict.fromkeys(r["tokenizer"] for r in rows))
    assert names == ["qwen", "qwen1", "qwen3"]
    by = {(r["tokenizer"], r["code"]): r for r in rows}
    for code in ("en", "zh"):
        # Plain text never spells an added token, so the regular tokens agree...
        assert by[("qwen1", code)]["tokens"] == by[("qwen", code)]["tokens"] \
            == by[("qwen3", code)]["tokens"]
    # ... and |V| counts each generation's added tokens.
    import qtok
    assert by[("qwen1", "en")]["vocab_size"] == qtok.get_encoding("qwen1").n_vocab == 151643 + 208
    assert by[("qwen3", "en")]["vocab_size"] == qtok.get_encoding("qwen3").n_vocab == 151643 + 26
