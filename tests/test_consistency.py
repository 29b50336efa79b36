"""Every encode and count entry point agrees with every other, for every set
of special-token arguments; and they take and refuse arguments as tiktoken does.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtok

CHAT = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"

ARGUMENT_SETS = [
    {}, {"allowed_special": "all"}, {"disallowed_special": ()},
    {"allowed_special": {"<|im_start|>"}, "disallowed_special": ()},
    {"allowed_special": {"<|im_end|>"}}, {"disallowed_special": None},
    {"allowed_special": frozenset({"<|im_start|>", "<|im_end|>"})},
]


def outcome(fn):
    """fn()'s value, or the type of what it raised."""
    try:
        return fn()
    except Exception as exc:          # noqa: BLE001 - the type is what is compared
        return type(exc)


def entry_points(enc, text, kwargs):
    """What every entry point makes of text, as token counts (or the error)."""
    return {
        "encode": outcome(lambda: len(enc.encode(text, **kwargs))),
        "count": outcome(lambda: enc.count(text, **kwargs)),
        "encode_to_numpy": outcome(lambda: len(enc.encode_to_numpy(text, **kwargs))),
        "encode_batch": outcome(lambda: len(enc.encode_batch([text], **kwargs)[0])),
        "count_batch": outcome(lambda: enc.count_batch([text], **kwargs)[0]),
        "encode_with_offsets": outcome(lambda: len(enc.encode_with_offsets(text, **kwargs)[0])),
    }


@pytest.mark.parametrize("name", ["qwen1", "qwen2", "qwen3"])
@pytest.mark.parametrize("kwargs", ARGUMENT_SETS, ids=repr)
def test_chat_prompt_counts_agree_everywhere(name, kwargs):
    results = entry_points(qtok.get_encoding(name), CHAT, kwargs)
    assert len(set(results.values())) == 1, results


def test_chat_prompt_example():
    enc = qtok.get_encoding("qwen2")
    assert enc.count(CHAT, allowed_special="all") == enc.count_batch([CHAT], allowed_special="all")[0] == 9
    with pytest.raises(ValueError, match="disallowed special token '<|im_start|>'"):
        enc.count_batch([CHAT])
    assert enc.count(CHAT, disallowed_special=()) == len(enc.encode_ordinary(CHAT))


PIECES = st.sampled_from(["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
                          "<", "|", ">", "hello", " ", "\n", "é", "e\u0301", "中文", "<|", "|>"])


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join), st.sampled_from(range(len(ARGUMENT_SETS))))
def test_every_pair_of_entry_points_agrees(text, which):
    results = entry_points(qtok.get_encoding("qwen3"), text, ARGUMENT_SETS[which])
    assert len(set(results.values())) == 1, (text, results)


# -- arguments, as tiktoken takes them -----------------------------------------------------

@pytest.fixture(scope="module")
def tiktoken_qwen(qwen_ranks):
    tiktoken = pytest.importorskip("tiktoken")
    return tiktoken.Encoding("qwen", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                             special_tokens=qtok.QWEN_SPECIAL_TOKENS)


@pytest.mark.parametrize("text", ["a<|im_end|>b", "plain"])
@pytest.mark.parametrize("kwargs", [
    {"allowed_special": ["<|im_end|>"]}, {"allowed_special": "none"}, {"allowed_special": "ALL"},
    {"allowed_special": "<|im_end|>"}, {"allowed_special": None},
    {"allowed_special": frozenset({"<|im_end|>"})}, {"allowed_special": {"<x>"}},
    {"disallowed_special": None}, {"disallowed_special": ["<|im_end|>"]},
    {"disallowed_special": "ALL"}, {"disallowed_special": "<|im_end|>"},
], ids=repr)
def test_special_token_arguments_as_tiktoken(tiktoken_qwen, text, kwargs):
    ours = outcome(lambda: qtok.get_encoding("qwen", normalization=None).encode(text, **kwargs))
    theirs = outcome(lambda: tiktoken_qwen.encode(text, **kwargs))
    assert ours == theirs


def test_disallowed_special_error_has_tiktokens_wording(tiktoken_qwen):
    with pytest.raises(ValueError) as ours:
        qtok.get_encoding("qwen").encode("x <|endoftext|>")
    with pytest.raises(ValueError) as theirs:
        tiktoken_qwen.encode("x <|endoftext|>")
    assert str(ours.value) == str(theirs.value)


def test_encode_single_token_takes_str_or_bytes(tiktoken_qwen):
    enc = qtok.get_encoding("qwen")
    assert enc.encode_single_token("<|im_end|>") == tiktoken_qwen.encode_single_token("<|im_end|>")
    assert enc.encode_single_token(b"hello") == tiktoken_qwen.encode_single_token(b"hello")
    for bad in (151643, None):
        assert outcome(lambda: enc.encode_single_token(bad)) is TypeError
        assert outcome(lambda: tiktoken_qwen.encode_single_token(bad)) is TypeError
    with pytest.raises(KeyError):
        enc.encode_single_token("hello world, not one token")


def test_a_str_is_not_a_batch():
    # tiktoken encodes encode_batch("ab") as [[a], [b]]; qtok says what is wrong.
    with pytest.raises(TypeError, match="single str"):
        qtok.get_encoding("qwen").encode_batch("ab")


# -- the command line -----------------------------------------------------------------------

def qtok_cli(*args, stdin=None):
    done = subprocess.run([sys.executable, "-m", "qtok", *args], input=stdin, capture_output=True,
                          text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_cli_encode_and_count_agree_on_every_option(tmp_path):
    chat = tmp_path / "chat.txt"
    chat.write_text(CHAT, encoding="utf-8")
    enc = qtok.get_encoding("qwen")
    for options, want in [([], None), (["--allowed-special", "all"], enc.count(CHAT, allowed_special="all")),
                          (["--plain"], enc.count(CHAT, disallowed_special=())),
                          (["--allowed-special", "<|im_start|>,<|im_end|>"],
                           enc.count(CHAT, allowed_special={"<|im_start|>", "<|im_end|>"}))]:
        code_e, out_e, err_e = qtok_cli("encode", "-f", str(chat), *options)
        code_c, out_c, err_c = qtok_cli("count", "-f", str(chat), *options)
        if want is None:
            assert code_e == code_c == 2, (err_e, err_c)
            assert "special token <|im_start|>" in err_e and "special token <|im_start|>" in err_c
            assert "Traceback" not in err_e + err_c
        else:
            assert code_e == code_c == 0
            assert len(out_e.split()) == int(out_c.split()[0]) == want


@pytest.mark.parametrize("args, says", [
    (["encode", "--allowed-special", "<nope>", "x"], "not a special token"),
    (["encode", "--allowed-special", "all", "--plain", "x"], "cannot be combined"),
    (["count", "--encoding", "cl100k_base", "x"], "Unknown encoding"),
    (["decode", "--encoding", "nope", "1"], "Unknown encoding"),
    (["verify", "--encoding", "nope"], "Unknown encoding"),
    (["decode", "--errors", "strict", "223"], "not UTF-8"),
])
def test_cli_refuses_in_one_line(args, says):
    code, _, err = qtok_cli(*args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err


def test_cli_decode_adds_no_newline():
    code, out, _ = qtok_cli("decode", "9707")
    assert code == 0 and out == "Hello"
    code, out, _ = qtok_cli("decode", "9707", "198")
    assert out == "Hello\n"


def test_cli_vocab_report_says_why_it_has_no_wide_layout():
    code, _, err = qtok_cli("report", "--vocab", "--layout", "wide")
    assert code == 2 and "--layout" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("state", ["missing", "damaged"])
@pytest.mark.parametrize("command", [["encode", "hi"], ["count", "hi"], ["decode", "1"],
                                     ["verify"], ["report", "--langs", "en"]])
def test_cli_with_a_broken_bundled_vocabulary_says_so_in_one_line(tmp_path, monkeypatch, capsys,
                                                                  state, command):
    from qtok import cli, load, registry
    if state == "damaged":
        (tmp_path / "qwen.tiktoken").write_bytes(b"bm90IGEgdG9rZW4= 0\n")
    monkeypatch.setattr(load, "__file__", str(tmp_path / "load.py"))
    monkeypatch.setattr(load, "_specs", {})
    monkeypatch.setattr(registry, "_encodings", {})
    monkeypatch.setenv("QTOK_CACHE_DIR", "")
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "qwen.tiktoken" in err, err
    assert ("reinstall" in err) if state == "missing" else ("sha256" in err)


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_cli_encodes_and_decodes_big_inputs_chunk_by_chunk_exactly(tmp_path, monkeypatch, capsys, chunk):
    from corpus_files import BUNDLED_FILES, read_text
    from qtok import cli
    text = "".join(read_text(p) for p in BUNDLED_FILES) + "\nend\r\nA\n\n  b<|im_end|>\nc"
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8", newline="")
    monkeypatch.setattr(cli, "CHUNK_CHARS", chunk)
    enc = qtok.get_encoding("qwen")
    want = enc.encode(text, allowed_special="all")
    assert cli.main(["encode", "-f", str(path), "--allowed-special", "all"]) == 0
    assert capsys.readouterr().out == " ".join(map(str, want)) + "\n"
    assert cli.main(["encode", "--json", "-f", str(path), "--allowed-special", "all"]) == 0
    assert capsys.readouterr().out == json.dumps(want) + "\n"
    assert cli.main(["count", "-f", str(path), "--allowed-special", "all"]) == 0
    assert capsys.readouterr().out.split()[0] == str(len(want))
    ids = tmp_path / "ids.txt"
    ids.write_text(" ".join(map(str, want)))
    assert cli.main(["decode", "-f", str(ids)]) == 0
    assert capsys.readouterr().out == enc.decode(want)


BAD_ARGUMENTS = {
    "unknown encoding": ["--encoding", "cl100k_base"],
    "missing file": ["-f", "{tmp}/nope.txt"],
    "folder as file": ["-f", "{tmp}"],
    "not UTF-8": ["-f", "{tmp}/latin1.txt"],
}


@pytest.mark.parametrize("command", ["encode", "count", "decode"])
@pytest.mark.parametrize("bad", sorted(BAD_ARGUMENTS))
def test_every_subcommand_refuses_bad_arguments_in_one_line(tmp_path, command, bad):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 1 2".encode("latin-1"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in BAD_ARGUMENTS[bad]]
    extra = [] if "-f" in args else (["1"] if command == "decode" else ["x"])
    code, _, err = qtok_cli(command, *args, *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("ids", ["1 x 2", "-1", "99999999999999999999", "[1, 2", "[1.5]", "151646"])
def test_decode_refuses_bad_ids_in_one_line(ids):
    code, _, err = qtok_cli("decode", ids)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("args", [["--plot", "chart.gif"], ["--corpus", "/nonexistent/folder"],
                                  ["--compare", "no-such-tokenizer"], ["--langs", "xx"],
                                  ["--split", "dev"], ["--format", "xml"], ["--num-proc", "0"]])
def test_report_refuses_bad_arguments_in_one_line(args):
    code, _, err = qtok_cli("report", *args)
    assert code == 2 and "Traceback" not in err, err
    assert len([line for line in err.strip().splitlines() if "error" in line]) == 1, err
