"""Reference tokenizers for the tests, built from qtok/qwen.tiktoken alone.

qtok is checked against two independent implementations of the same
vocabulary: tiktoken (the definition of the BPE rule qtok follows) and
Hugging Face ``tokenizers`` in the Qwen2 layout (needed where tiktoken
cannot go: it overflows its stack on a 1M-character run of spaces).

Nothing here imports qtok's own loaders: the file parser, the byte-level
alphabet and the merges are re-derived, so a bug in qtok.vocab cannot hide
behind an identical bug in the reference.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Iterable, Sequence

#: Written out rather than imported from qtok, so the references do not
#: inherit a typo in qtok.vocab.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN_SPECIAL_TOKENS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}


def pattern_pieces(text: str) -> list[str]:
    """The matches of the Qwen pattern in text, by the regex module
    (tiktoken's own dependency): what qtok._bpe.split_pieces must return.
    Its Unicode is newer than tiktoken's, so keep to characters both agree
    on (test_unicode_classes checks qtok's classes against tiktoken)."""
    import regex
    return regex.findall(QWEN_PATTERN, text)


# -- normalization ---------------------------------------------------------------------

def nfc(text: str) -> str:
    """NFC as Qwen2 and later apply it: Hugging Face tokenizers' NFC (whose
    tables are Unicode 9.0's, not this Python's unicodedata).  tokenizers
    cannot take a lone surrogate; NFC leaves one as it is and nothing joins
    it, so the text between surrogates is normalized piece by piece."""
    import re
    from tokenizers.normalizers import NFC
    normalize = NFC().normalize_str
    parts = re.split("([\ud800-\udfff])", text)
    return "".join(part if len(part) == 1 and "\ud800" <= part <= "\udfff" else normalize(part)
                   for part in parts)


# -- the vocabulary file ------------------------------------------------------------

def read_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    """Parse a tiktoken file: one ``base64(token) rank`` per line."""
    ranks: dict[bytes, int] = {}
    for line in Path(path).read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def tiktoken_reference(ranks: dict[bytes, int], name: str = "qwen-reference"):
    """tiktoken.Encoding with the Qwen pattern and special tokens."""
    import tiktoken
    return tiktoken.Encoding(name=name, pat_str=QWEN_PATTERN, mergeable_ranks=ranks,
                             special_tokens=QWEN_SPECIAL_TOKENS)


# -- merges from ranks --------------------------------------------------------------

def last_merge(token: bytes, rank: int, ranks: dict[bytes, int]) -> tuple[bytes, bytes] | None:
    """The two tokens that tiktoken's BPE joins last when it builds ``token``.

    Run tiktoken's rule (join the adjacent pair whose concatenation has the
    lowest rank, leftmost on ties) on the token's bytes with only ranks below
    its own allowed.  Every merge before the last one only uses lower ranks,
    so this stops with exactly the two parts the final merge joins -- or with
    more than two if the token cannot be built by merges at all (None).
    """
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best_rank, best_i = rank, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < best_rank:
                best_rank, best_i = r, i
        if best_i < 0:
            return None
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts[0], parts[1]


def build_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The BPE merges list in rank order (what merges.txt holds).

    Raises if a multi-byte token cannot be reached by merges: such a token
    would make the HF reference differ from tiktoken for reasons that have
    nothing to do with qtok.
    """
    merges = []
    unreachable = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        merge = last_merge(token, rank, ranks)
        if merge is None:
            unreachable.append(token)
        else:
            merges.append(merge)
    if unreachable:
        raise ValueError(f"{len(unreachable)} tokens cannot be built by merges, e.g. {unreachable[:5]}")
    return merges


# -- the byte-level alphabet (GPT-2's bytes_to_unicode) -----------------------------

def byte_level_alphabet() -> list[str]:
    """byte -> the printable character that spells it in vocab.json.

    Bytes that are visible Latin-1 characters spell themselves; the other 68
    (controls, space, DEL, NBSP, soft hyphen...) take U+0100, U+0101, ... in
    byte order.
    """
    visible = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    alphabet = []
    shifted = 0x100
    for b in range(256):
        if b in visible:
            alphabet.append(chr(b))
        else:
            alphabet.append(chr(shifted))
            shifted += 1
    return alphabet


_ALPHABET = byte_level_alphabet()


def spell(token: bytes) -> str:
    """A token's bytes in the byte-level alphabet."""
    return "".join(_ALPHABET[b] for b in token)


# -- Hugging Face files and the HF reference ----------------------------------------

def build_hf_tokenizer(ranks: dict[bytes, int], merges: Sequence[tuple[bytes, bytes]]):
    """A ``tokenizers.Tokenizer`` laid out as Qwen2's tokenizer.json.

    NFC normalizer; the pattern as an isolated Split, then ByteLevel without
    its own regex; BPE with ``ignore_merges`` (a pre-token that is already
    a token is kept whole, as tiktoken does); the three special tokens as
    added tokens; the ByteLevel decoder.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    vocab = {spell(token): rank for token, rank in ranks.items()}
    model = models.BPE(vocab=vocab, merges=[(spell(a), spell(b)) for a, b in merges],
                       ignore_merges=True)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    # add_special_tokens appends in order: check the ids came out as Qwen's.
    tokenizer.add_special_tokens([AddedToken(text, special=True, normalized=False)
                                  for text in QWEN_SPECIAL_TOKENS])
    for text, token_id in QWEN_SPECIAL_TOKENS.items():
        assert tokenizer.token_to_id(text) == token_id, text
    return tokenizer


def write_qwen2_files(folder: Path, ranks: dict[bytes, int],
                      merges: Sequence[tuple[bytes, bytes]]) -> dict[str, Path]:
    """Write tokenizer.json, vocab.json and merges.txt as a Qwen2 checkpoint has them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("tokenizer.json", "vocab.json", "merges.txt")}
    build_hf_tokenizer(ranks, merges).save(str(paths["tokenizer.json"]))
    vocab = {spell(token): rank for token, rank in sorted(ranks.items(), key=lambda item: item[1])}
    paths["vocab.json"].write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{spell(a)} {spell(b)}" for a, b in merges]
    paths["merges.txt"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def hf_ids(tokenizer, texts: Iterable[str]) -> list[list[int]]:
    """HF ids of plain texts (no special-token post-processing)."""
    return [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


# -- reporting differences ------------------------------------------------------------

def first_mismatch(texts: Sequence[str], got: Sequence[Sequence[int]],
                   want: Sequence[Sequence[int]], what: str = "qtok") -> str | None:
    """A readable description of the first text whose ids differ, or None."""
    if len(got) != len(want):
        return f"{what} returned {len(got)} results for {len(want)} texts"
    bad = [i for i in range(len(want)) if list(got[i]) != list(want[i])]
    if not bad:
        return None
    i = bad[0]
    g, w = list(got[i]), list(want[i])
    k = next((j for j in range(min(len(g), len(w))) if g[j] != w[j]), min(len(g), len(w)))
    return (f"{len(bad)} of {len(want)} texts differ; first is #{i} {texts[i][:200]!r}: "
            f"at token {k}, {what} has {g[k:k + 5]}, the reference {w[k:k + 5]}")


def first_piece_difference(got: Sequence[str], want: Sequence[str]) -> str | None:
    """The first piece where two piece lists differ (or where the shorter
    one ends), with a little context; None when they are equal."""
    if list(got) == list(want):
        return None
    k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return f"piece {k}: {list(got[max(0, k - 3):k + 3])!r} != {list(want[max(0, k - 3):k + 3])!r}"
