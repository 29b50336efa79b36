"""Every Qwen generation's encoding against Hugging Face ``tokenizers``.

For each generation the reference is a Qwen2-layout tokenizer.json (built from
the bundled vocabulary by qwen_reference) with that generation's added tokens,
added in id order with their "special" flags.  The tables of added tokens are
written out here again, from the published tokenizer files, rather than read
from qtok.qwen, so that a typo there cannot hide.
"""
from __future__ import annotations

import json
import pickle
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtok
from corpus_files import BUNDLED_FILES, LEIPZIG_FILES, read_lines, synthetic_texts
from qwen_reference import nfc

pytest.importorskip("tokenizers")

CHAT = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True)]
ADDED = {
    "qwen1": CHAT + [(f"<|extra_{i}|>", True) for i in range(205)],
    "qwen2": CHAT,
    "qwen2.5": CHAT + [(t, True) for t in (
        "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
        "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
        "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")] + [(t, False) for t in (
        "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
        "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>")],
}
ADDED["qwen3"] = ADDED["qwen2.5"] + [(t, False) for t in (
    "<tool_response>", "</tool_response>", "<think>", "</think>")]
N_VOCAB = {"qwen1": 151_851, "qwen2": 151_646, "qwen2.5": 151_665, "qwen3": 151_669}
GENERATIONS = list(ADDED)


def added_ids(name):
    return {text: 151_643 + i for i, (text, _) in enumerate(ADDED[name])}


@pytest.fixture(scope="session")
def hf_generation(qwen2_files):
    """name -> a tokenizers.Tokenizer with that generation's added tokens."""
    from tokenizers import AddedToken, Tokenizer
    made = {}

    def make(name):
        if name not in made:
            tok = Tokenizer.from_file(str(qwen2_files["tokenizer.json"]))
            for text, special in ADDED[name][3:]:
                token = AddedToken(text, special=special, normalized=False)
                (tok.add_special_tokens if special else tok.add_tokens)([token])
            for text, token_id in added_ids(name).items():
                assert tok.token_to_id(text) == token_id, (name, text)
            made[name] = tok
        return made[name]
    return make


@pytest.fixture(scope="session")
def generation_folders(tmp_path_factory, hf_generation):
    """name -> a checkpoint folder with that generation's tokenizer.json."""
    root = tmp_path_factory.mktemp("generations")
    folders = {}
    for name in GENERATIONS:
        folder = root / name
        folder.mkdir()
        hf_generation(name).save(str(folder / "tokenizer.json"))
        folders[name] = folder
    return folders


def added_token_texts(name: str) -> list[str]:
    """Every added token alone, adjacent, repeated, inside words, next to
    whitespace and half-written, mixed with text."""
    tokens = [t for t, _ in ADDED[name]]
    sample = tokens[:3] + tokens[3:][::max(1, len(tokens[3:]) // 12)] + tokens[-4:]
    texts = list(tokens)
    for t in sample:
        texts += [t + t, f"word{t}word", f" {t} ", f"\n{t}\n", f"{t}{t} {t}",
                  t[:-1], t[1:], t[:len(t) // 2] + " " + t[len(t) // 2:], f"é{t}e\u0301"]
    texts += ["".join(sample), " ".join(sample), "<think", "</tool_call", "<|im_end",
              "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n</think>\n",
              "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "<|fim_prefix|>def f():<|fim_suffix|>"]
    return texts


def reference_texts(name):
    texts = added_token_texts(name) + synthetic_texts(200, seed=17)
    for path in BUNDLED_FILES[:8]:
        texts += read_lines(path)[:20]
    for path in LEIPZIG_FILES:                  # the test corpora, when present
        lines = read_lines(path)[:40]
        texts += lines + ["<|im_start|>user\n" + line + "<|im_end|>" for line in lines[:10]]
    return texts


# -- the table ------------------------------------------------------------------------

@pytest.mark.parametrize("name", GENERATIONS)
def test_each_generation_has_its_added_tokens(name):
    enc = qtok.get_encoding(name)
    assert enc.n_vocab == N_VOCAB[name] and enc.max_token_value == N_VOCAB[name] - 1
    assert enc.special_tokens_set == set(added_ids(name))
    for text, token_id in added_ids(name).items():
        assert enc.encode_single_token(text) == token_id
        assert enc.decode([token_id]) == text
    assert enc.eot_token == 151_643


def test_aliases_and_case():
    assert qtok.get_encoding("qwen").n_vocab == qtok.get_encoding("QWEN1.5").n_vocab == 151_646
    assert qtok.list_encoding_names() == GENERATIONS
    with pytest.raises(ValueError, match="qwen1, qwen2, qwen2.5, qwen3"):
        qtok.get_encoding("qwen4")


@pytest.mark.parametrize("model, name", [
    ("Qwen/Qwen3-8B", "qwen3"), ("qwen3-235b-a22b-instruct-2507", "qwen3"),
    ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3"), ("Qwen3-Next-80B-A3B-Thinking", "qwen3"),
    ("Qwen/QwQ-32B", "qwen3"), ("Qwen/QwQ-32B-Preview", "qwen2.5"),
    ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5"), ("Qwen2.5-Coder-7B-Instruct-AWQ", "qwen2.5"),
    ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5"), ("qwen2-7b-instruct-gguf", "qwen2"),
    ("Qwen/Qwen1.5-14B-Chat", "qwen2"), ("Qwen/Qwen-7B-Chat", "qwen1"),
    ("Qwen-1_8B", "qwen1"), ("QWEN-72B-CHAT-INT4", "qwen1"),
])
def test_encoding_for_model(model, name):
    assert qtok.encoding_name_for_model(model) == name
    assert qtok.encoding_for_model(model).n_vocab == N_VOCAB[name]


@pytest.mark.parametrize("model, says", [
    ("Qwen/Qwen3.5-9B", "Qwen3.5 and later"), ("qwen3.6-plus", "Qwen3.5 and later"),
    ("Qwen4-8B", "Qwen3.5 and later"), ("Qwen/Qwen2-VL-7B-Instruct", "load_tokenizer_json"),
    ("gpt-4o", "Could not automatically map"), ("qwenlm", "Could not automatically map"),
])
def test_encoding_for_model_refuses_what_it_cannot_name(model, says):
    with pytest.raises(KeyError, match=says):
        qtok.encoding_for_model(model)


# -- ids and decoding against Hugging Face ---------------------------------------------------

@pytest.mark.parametrize("name", GENERATIONS)
def test_ids_equal_hf_with_all_added_tokens_allowed(name, hf_generation):
    enc, hf = qtok.get_encoding(name), hf_generation(name)
    texts = reference_texts(name)
    want = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    got = [enc.encode(t, allowed_special="all") for t in texts]
    bad = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
    assert not bad, bad[:3]
    assert enc.encode_batch(texts, allowed_special="all") == want
    assert [enc.count(t, allowed_special="all") for t in texts] == [len(w) for w in want]
    assert [enc.encode_to_numpy(t, allowed_special="all").tolist() for t in texts[:50]] == want[:50]


@pytest.mark.parametrize("name", GENERATIONS)
def test_added_tokens_are_disallowed_by_default_as_in_tiktoken(name):
    enc = qtok.get_encoding(name)
    for text in ADDED[name][-1][0], "<|im_end|>":
        with pytest.raises(ValueError, match="disallowed"):
            enc.encode(f"a {text} b")
        assert enc.encode(f"a {text} b", disallowed_special=()) == enc.encode_ordinary(f"a {text} b")
        assert enc.encode(text, allowed_special={text}) == [added_ids(name)[text]]


@pytest.mark.parametrize("name", GENERATIONS)
def test_decode_with_and_without_skipping_special_tokens_equals_hf(name, hf_generation):
    enc, hf = qtok.get_encoding(name), hf_generation(name)
    ids = [enc.encode(t, allowed_special="all") for t in added_token_texts(name)]
    ids.append(list(range(151_640, N_VOCAB[name])))
    for skip in (False, True):
        want = [hf.decode(x, skip_special_tokens=skip) for x in ids]
        assert [enc.decode(x, skip_special_tokens=skip) for x in ids] == want
        assert enc.decode_batch(ids, skip_special_tokens=skip) == want
        assert [b.decode() for b in enc.decode_bytes_batch(ids, skip_special_tokens=skip)] == want


def test_skip_special_tokens_keeps_the_tokens_not_marked_special():
    enc = qtok.get_encoding("qwen3")
    ids = enc.encode("<|im_start|>assistant\n<think>ok</think><tool_call>x</tool_call><|im_end|>",
                     allowed_special="all")
    assert enc.decode(ids, skip_special_tokens=True) == "assistant\n<think>ok</think><tool_call>x</tool_call>"
    one = qtok.get_encoding("qwen1")
    assert one.decode([151_644, 9707, 151_850, 151_700], skip_special_tokens=True) == "Hello"


@pytest.mark.parametrize("name", GENERATIONS)
def test_every_id_below_n_vocab_decodes_and_none_above(name):
    enc = qtok.get_encoding(name)
    assert len(enc.decode_bytes(list(range(enc.n_vocab)))) > 0
    with pytest.raises(qtok.InvalidToken, match=str(enc.n_vocab)):
        enc.decode([enc.n_vocab])
    with pytest.raises(qtok.InvalidToken):
        enc.decode_single_token_bytes(enc.n_vocab)


# -- where added tokens are looked for ------------------------------------------------------

def test_added_tokens_are_found_before_nfc_from_qwen2_on_and_after_it_in_qwen1(hf_generation):
    # ">" + U+0338 composes to U+226F under NFC: in the raw text <|im_end|> is
    # there, in the normalized text it is gone.
    text = "x<|im_end|>\u0338y"
    assert "<|im_end|>" not in nfc(text)
    for name in ("qwen2", "qwen2.5", "qwen3"):
        assert qtok.get_encoding(name).encode(text, allowed_special="all") == \
            hf_generation(name).encode(text, add_special_tokens=False).ids
        assert 151_645 in qtok.get_encoding(name).encode(text, allowed_special="all")
    one = qtok.get_encoding("qwen1")
    assert one.encode(text, allowed_special="all") == one.encode_ordinary(text)
    assert one.encode(text) == one.encode_ordinary(text)          # nothing disallowed is left


# -- loading a checkpoint's tokenizer.json -----------------------------------------------------

@pytest.mark.parametrize("name", GENERATIONS)
def test_load_tokenizer_json_gives_the_named_encoding(name, generation_folders, hf_generation):
    loaded = qtok.load_tokenizer_json(generation_folders[name])
    named = qtok.get_encoding(name)
    assert loaded.n_vocab == named.n_vocab and loaded.special_tokens_set == named.special_tokens_set
    texts = added_token_texts(name)
    assert [loaded.encode(t, allowed_special="all") for t in texts] == \
        [named.encode(t, allowed_special="all") for t in texts]
    ids = list(range(151_640, N_VOCAB[name]))
    assert loaded.decode(ids, skip_special_tokens=True) == named.decode(ids, skip_special_tokens=True)


def test_tokenizer_config_decides_which_added_tokens_are_special(generation_folders, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(generation_folders["qwen3"], folder)
    decoder = {str(token_id): {"content": text, "special": text == "<think>"}
               for text, token_id in added_ids("qwen3").items()}
    (folder / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": decoder}))
    enc = qtok.load_tokenizer_json(folder)
    assert enc.decode([151_667, 151_644, 9707], skip_special_tokens=True) == "<|im_start|>Hello"
    decoder["151667"] = {"content": "<thought>", "special": True}
    (folder / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": decoder}))
    with pytest.raises(qtok.VocabularyError, match="id 151667"):
        qtok.load_tokenizer_json(folder)


# -- streaming decode ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["qwen2", "qwen3"])
def test_decode_stream_equals_hf_decode_stream(name, hf_generation):
    from tokenizers.decoders import DecodeStream
    enc, hf = qtok.get_encoding(name), hf_generation(name)
    texts = ["Hello 😀 world, 中文字 ثلاثة नमस्ते", "<|im_start|>user\n你好<|im_end|><think>嗯</think>",
             "é" * 3 + "\U0001F468\u200D\U0001F469\u200D\U0001F467"] + added_token_texts(name)[:20]
    for text in texts:
        ids = enc.encode(text, allowed_special="all")
        ids += [200, 201, 150, 33, 0xE4, 0xB8]          # byte tokens: invalid, then unfinished
        for skip in (False, True):
            theirs, ours = DecodeStream(skip_special_tokens=skip), enc.decode_stream(skip_special_tokens=skip)
            got = [ours.step(i) for i in ids]
            assert got == [theirs.step(hf, i) for i in ids], text
            assert "".join(g for g in got if g) + ours.flush() == enc.decode(ids, skip_special_tokens=skip)


def test_decode_stream_never_returns_a_partial_character():
    enc = qtok.get_encoding("qwen2")
    text = "中文字" * 50 + "😀" * 30
    stream = enc.decode_stream()
    pieces = [stream.step(i) for i in enc.encode(text)]
    assert all("\ufffd" not in p for p in pieces if p) and "".join(p for p in pieces if p) == text
    with pytest.raises(qtok.InvalidToken):
        stream.step(enc.n_vocab)


def test_decode_stream_holds_back_a_bounded_amount_of_garbage():
    enc = qtok.get_encoding("qwen2")
    stream = enc.decode_stream()
    out = [stream.step(0xFF - 0x21) for _ in range(500)]          # a byte that is never UTF-8
    assert len(stream.pending) <= 64 + 1
    assert "".join(o for o in out if o) + stream.flush() == enc.decode([0xFF - 0x21] * 500)


# -- offsets -------------------------------------------------------------------------------------

OFFSET_TEXTS = ["e\u0301te", "Hello, world!", "中文字 and 😀", "A\u030a\u0323x", "\u212b\u2126",
                "a\u0344b", "x\u0f73y", "a\u0323\u0302\u0301b", "\u1100\u1161\u11a8\u1100", "é<|im_end|>",
                "x<|im_end|>\u0338y", "<think>\ne\u0301</think>", "  \n\n\t x", ""]


@pytest.mark.parametrize("name", ["qwen2", "qwen3"])
def test_encode_with_offsets_equals_hf_offsets(name, hf_generation):
    enc, hf = qtok.get_encoding(name), hf_generation(name)
    texts = OFFSET_TEXTS + added_token_texts(name)[:40] + synthetic_texts(100, seed=5)
    for path in BUNDLED_FILES:
        texts += read_lines(path)[:3]
    for text in texts:
        e = hf.encode(text, add_special_tokens=False)
        ids, spans = enc.encode_with_offsets(text, allowed_special="all")
        assert (ids, spans) == (e.ids, e.offsets), text


MARKS = st.sampled_from(list("aeouAEOU\u0301\u0300\u0302\u0303\u0308\u0323\u0327\u0328\u030a"
                             "\u0344\u1100\u1161\u11a8\u212b 中<>|"))


@settings(max_examples=300, deadline=None)
@given(st.lists(MARKS, max_size=24).map("".join))
def test_encode_with_offsets_equals_hf_on_runs_of_marks(hf_generation, text):
    hf = hf_generation("qwen3")
    e = hf.encode(text, add_special_tokens=False)
    assert qtok.get_encoding("qwen3").encode_with_offsets(text, allowed_special="all") == (e.ids, e.offsets)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([t for t, _ in ADDED["qwen3"]]), st.text(max_size=8),
                          st.sampled_from(["<", "|", ">", "<|", "|>", "</", " ", "\n", "\u0338"])),
                max_size=10).map("".join))
def test_added_tokens_mixed_with_text_equal_hf(hf_generation, text):
    hf = hf_generation("qwen3")
    enc = qtok.get_encoding("qwen3")
    if any(0xD800 <= ord(c) < 0xE000 for c in text):
        return                                        # lone surrogates: HF cannot take them
    assert enc.encode(text, allowed_special="all") == hf.encode(text, add_special_tokens=False).ids


# -- pickling and threads ---------------------------------------------------------------------

@pytest.mark.parametrize("name", GENERATIONS)
def test_pickles_and_batches_for_every_encoding(name):
    enc = qtok.get_encoding(name)
    clone = pickle.loads(pickle.dumps(enc))
    assert clone.n_vocab == enc.n_vocab and clone.name == enc.name
    texts = added_token_texts(name) * 40
    single = [enc.encode(t, allowed_special="all") for t in texts]
    assert clone.encode_batch(texts, allowed_special="all", num_threads=2) == single
    assert enc.decode_batch(single, num_threads=2) == [enc.decode(x) for x in single]
