"""Loading vocabularies: the bundled Qwen file, tiktoken files, Hugging Face
tokenizer files.

Every loader returns a ``VocabSpec``: what an Encoding needs to be built
(the native core, the pattern, the special tokens, whether to apply NFC)
plus a recipe to load it again, which is what gets pickled.  ``cached_spec``
builds each recipe once per process.  The compiled-table cache behind the
tiktoken loaders is qtok.table_cache; the Qwen constants are in qtok.qwen.
"""
from __future__ import annotations

import os
import stat
from _thread import allocate_lock

from ._bpe import CoreBPE
from .errors import VocabularyError
from .qwen import (ADDED_TOKENS_IN_RAW_TEXT, QWEN_FILE, QWEN_GENERATIONS, QWEN_PATTERN, QWEN_SHA256,
                   QWEN_SPECIAL_TOKENS)
from .table_cache import core_from_tiktoken


class VocabSpec:
    """What an Encoding is made of.  (A plain class, not a dataclass: importing
    dataclasses costs ~10 ms, a fifth of qtok's load budget.)

    ``special_tokens`` holds every added token (text -> id), special or not:
    allowed_special / disallowed_special govern them all, as tiktoken's
    special tokens.  ``skip_ids`` are the ids Hugging Face marks special,
    which ``decode(..., skip_special_tokens=True)`` drops.  ``added_tokens``
    says where they are found in a text: ``"raw"`` (before normalization, as
    Hugging Face does) or ``"normalized"`` (after it, as Qwen-1 did).
    """

    __slots__ = ("core", "pat_str", "special_tokens", "normalization", "recipe", "skip_ids",
                 "added_tokens")

    def __init__(self, core: CoreBPE, pat_str: str, special_tokens: dict[str, int],
                 normalization: str | None, recipe: tuple = (), *,
                 skip_ids: frozenset[int] | None = None,
                 added_tokens: str = ADDED_TOKENS_IN_RAW_TEXT):
        self.core = core
        self.pat_str = pat_str
        self.special_tokens = special_tokens
        self.normalization = normalization
        self.recipe = recipe            # (callable, args[, kwargs]) that rebuilds this spec
        self.skip_ids = frozenset(special_tokens.values()) if skip_ids is None else skip_ids
        self.added_tokens = added_tokens


#: The largest vocabulary file read: far above any real one (Qwen's is 2.6 MB,
#: its tokenizer.json 7 MB; 2**21 ids of 64 bytes each would be 128 MiB), so
#: that a wrong path (a device, a disk image) is refused instead of read.
MAX_VOCABULARY_BYTES = 256 << 20


def _read(path: str | os.PathLike, first_line=None) -> bytes:
    """A vocabulary file's bytes.  Only a regular file is read, opened
    without blocking (a FIFO or a device is refused, not waited on), and
    only up to MAX_VOCABULARY_BYTES.  first_line, if given, checks the
    first line as soon as it is read, so that a file of another kind fails
    there rather than after all of it has been read."""
    source = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError:
        raise VocabularyError(f"{source}: no such vocabulary file") from None
    except IsADirectoryError:
        raise VocabularyError(f"{source}: is a folder, expected a vocabulary file") from None
    except OSError as exc:
        raise VocabularyError(f"{source}: cannot open it ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise VocabularyError(f"{source}: is a folder, expected a vocabulary file")
        if not stat.S_ISREG(info.st_mode):
            raise VocabularyError(f"{source}: not a regular file (a device, FIFO or socket); "
                                  f"expected a vocabulary file")
        if info.st_size > MAX_VOCABULARY_BYTES:
            raise VocabularyError(f"{source}: {info.st_size:,} bytes, more than any vocabulary "
                                  f"({MAX_VOCABULARY_BYTES >> 20} MiB at most); is it the right file?")
        with os.fdopen(os.dup(fd), "rb") as f:
            head = f.read(1 << 16)
            if first_line is not None:
                first_line(head.split(b"\n", 1)[0], source)
            rest = f.read(MAX_VOCABULARY_BYTES + 1 - len(head))
    except OSError as exc:
        raise VocabularyError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    data = head + rest
    if len(data) > MAX_VOCABULARY_BYTES:
        raise VocabularyError(f"{source}: grew past {MAX_VOCABULARY_BYTES >> 20} MiB while read")
    return data


def _tiktoken_first_line(line: bytes, source: str) -> None:
    """A tiktoken file's first line is 'base64-token rank' (blank lines and
    surrounding whitespace aside, which the parser takes)."""
    parts = line.split()
    if line.strip() and (len(parts) != 2 or not parts[1].isdigit()
                         or not all(c in _BASE64 for c in parts[0])):
        shown = line[:60].decode("utf-8", "replace")
        raise VocabularyError(f"{source}, line 1: expected 'base64-token rank', got {shown!r}: "
                              f"not a tiktoken vocabulary file")


_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _naming(error: ValueError, source: str) -> VocabularyError:
    """The error as a VocabularyError whose message names the file: some
    checks in the core (a duplicate token, a missing single byte) do not."""
    message = str(error)
    return VocabularyError(message if message.startswith(source) else f"{source}: {message}")


def check_sha256(data: bytes, expected: str | None, source: str) -> str:
    """The sha256 of data (hex); raises if ``expected`` is given and differs."""
    import hashlib          # here, not at import: it starts OpenSSL (2-3 ms)
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and actual != expected.lower():
        raise VocabularyError(
            f"{source}: sha256 is {actual}, expected {expected}: the file is damaged "
            "or is not the vocabulary it claims to be (reinstall qtok, or pass the right file)"
        )
    return actual


def check_pattern(pat_str: str, source: str) -> None:
    if pat_str != QWEN_PATTERN:
        raise VocabularyError(
            f"{source}: qtok's native scanner implements the Qwen pattern only, "
            f"got {pat_str!r}; use tiktoken for other patterns"
        )


# -- tiktoken files -------------------------------------------------------------

def load_qwen() -> bytes:
    """The bundled qwen.tiktoken, checksum verified."""
    # The file sits next to this module in every normal install; reading it
    # by path avoids importing importlib.resources (and zipfile), ~7 ms.
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), QWEN_FILE)
    if not os.path.exists(source):
        raise VocabularyError(f"{source}: the bundled vocabulary is missing; reinstall qtok")
    data = _read(source)
    check_sha256(data, QWEN_SHA256, source)
    return data


def qwen_spec(generation: str = "qwen2", normalization: str | None = "NFC") -> VocabSpec:
    """One Qwen generation's encoding (see qtok.qwen.QWEN_GENERATIONS): the
    bundled vocabulary and that generation's added tokens."""
    added, where = QWEN_GENERATIONS[generation]
    specials = {text: token_id for text, token_id, _ in added}
    core = core_from_tiktoken(load_qwen(), QWEN_SHA256, specials, QWEN_FILE)
    return VocabSpec(core, QWEN_PATTERN, specials, normalization,
                     recipe=(qwen_spec, (generation, normalization)),
                     skip_ids=frozenset(token_id for _, token_id, special in added if special),
                     added_tokens=where)


def tiktoken_file_spec(path: str | os.PathLike, *, special_tokens: dict[str, int] | None = None,
                       pat_str: str = QWEN_PATTERN, expected_sha256: str | None = None,
                       normalization: str | None = "NFC") -> VocabSpec:
    """Any tiktoken-format file: one ``base64-token rank`` per line."""
    source = os.fspath(path)
    check_pattern(pat_str, source)
    # With a checksum to meet, that decides; without, a file of another kind
    # fails at its first line, before the rest is read.
    data = _read(path, None if expected_sha256 else _tiktoken_first_line)
    digest = check_sha256(data, expected_sha256, source)
    specials = dict(special_tokens or {})
    try:
        core = core_from_tiktoken(data, digest, specials, source)
    except VocabularyError:
        raise
    except ValueError as e:
        raise _naming(e, source) from None
    return VocabSpec(core, pat_str, specials, normalization,
                     recipe=(tiktoken_file_spec, (path,), dict(
                         special_tokens=specials, pat_str=pat_str,
                         expected_sha256=expected_sha256, normalization=normalization)))


def ranks_spec(mergeable_ranks: dict[bytes, int], special_tokens: dict[str, int], pat_str: str,
               normalization: str | None, source: str = "mergeable_ranks") -> VocabSpec:
    check_pattern(pat_str, source)
    try:
        core = CoreBPE.from_ranks(mergeable_ranks, dict(special_tokens), source)
    except ValueError as e:
        raise _naming(e, source) from None
    return VocabSpec(core, pat_str, dict(special_tokens), normalization)


# -- Hugging Face files ------------------------------------------------------------

def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet: printable character -> the byte it stands for.

    Bytes that are printable Latin-1 map to themselves; the other 68 map, in
    order, to U+0100 onwards.  tokenizer.json and vocab.json spell tokens in it.
    """
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
                 + list(range(0xAE, 0xFF + 1)))
    mapping = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + extra)] = b
            extra += 1
    return mapping


def _ranks_from_byte_level(vocab: dict[str, int], source: str) -> dict[bytes, int]:
    alphabet = byte_level_alphabet()
    ranks: dict[bytes, int] = {}
    for text, rank in vocab.items():
        try:
            ranks[bytes(alphabet[ch] for ch in text)] = rank
        except KeyError as e:
            raise VocabularyError(
                f"{source}: token {text!r} is not spelled in the byte-level alphabet "
                f"(character {e.args[0]!r}); is this a byte-level BPE vocabulary?") from None
    return ranks


def _json(path: str | os.PathLike):
    source = os.fspath(path)
    import json                         # here: only tokenizer files need it
    data = _read(path)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:    # json.JSONDecodeError is a ValueError
        raise VocabularyError(f"{source}: not valid JSON ({e})") from None


def _find_split_pattern(pre: dict | None) -> str | None:
    """The regex of the Split pre-tokenizer in a tokenizer.json, if any."""
    if not pre:
        return None
    if pre.get("type") == "Split":
        pattern = pre.get("pattern", {})
        return pattern.get("Regex") or pattern.get("String")
    for sub in pre.get("pretokenizers", []) or []:
        found = _find_split_pattern(sub)
        if found:
            return found
    return None


def _normalizer_of(norm: dict | None) -> str | None:
    if not norm:
        return None
    kind = norm.get("type")
    if kind == "NFC":
        return "NFC"
    if kind == "Sequence" and [n.get("type") for n in norm.get("normalizers", [])] == ["NFC"]:
        return "NFC"
    raise VocabularyError(f"unsupported normalizer {kind!r}: qtok applies NFC or nothing")


def tokenizer_json_spec(path: str | os.PathLike) -> VocabSpec:
    """A Qwen2-style Hugging Face tokenizer.json (byte-level BPE, Qwen pattern).

    Ids are used as ranks, as tiktoken does; added tokens become special
    tokens (allowed_special governs them all), and those the file marks
    "special" are what decode(..., skip_special_tokens=True) drops.  A
    tokenizer_config.json beside the file is read too: its
    added_tokens_decoder decides which are special, as transformers reads
    it.  The normalizer (NFC or none) is taken from the file.
    """
    source = os.fspath(path)
    doc = _json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("model"), dict):
        raise VocabularyError(f"{source}: not a tokenizer.json (no 'model' object)")
    model = doc["model"]
    if model.get("type") not in (None, "BPE") or not isinstance(model.get("vocab"), dict):
        raise VocabularyError(f"{source}: expected a BPE model with a vocab, got {model.get('type')!r}")
    pattern = _find_split_pattern(doc.get("pre_tokenizer"))
    if pattern is not None:
        check_pattern(pattern, source)
    try:
        normalization = _normalizer_of(doc.get("normalizer"))
    except VocabularyError as e:
        raise VocabularyError(f"{source}: {e}") from None
    ranks = _ranks_from_byte_level(model["vocab"], source)
    added = _added_tokens(doc.get("added_tokens"), source)
    config = os.path.join(os.path.dirname(os.path.abspath(source)), "tokenizer_config.json")
    if os.path.isfile(config):
        added = _merge_added_tokens(added, _config_added_tokens(config), source, config)
    # An added token that is also a regular token keeps its regular id.
    added = {text: entry for text, entry in added.items() if text.encode("utf-8") not in ranks}
    specials = {text: token_id for text, (token_id, _) in added.items()}
    spec = ranks_spec(ranks, specials, QWEN_PATTERN, normalization, source)
    spec.skip_ids = frozenset(token_id for token_id, special in added.values() if special)
    spec.recipe = (tokenizer_json_spec, (path,))
    return spec


def _added_tokens(entries, source: str) -> dict[str, tuple[int, bool]]:
    """tokenizer.json's added_tokens: text -> (id, special)."""
    out: dict[str, tuple[int, bool]] = {}
    for entry in entries or []:
        if (not isinstance(entry, dict) or not isinstance(entry.get("content"), str)
                or not isinstance(entry.get("id"), int) or isinstance(entry.get("id"), bool)):
            raise VocabularyError(f"{source}: an added token is not an object with a "
                                  f"'content' string and an 'id' number: {entry!r}")
        out[entry["content"]] = (entry["id"], bool(entry.get("special", False)))
    return out


def _config_added_tokens(path: str) -> dict[str, tuple[int, bool]]:
    """tokenizer_config.json's added_tokens_decoder: text -> (id, special)."""
    doc = _json(path)
    decoder = doc.get("added_tokens_decoder") if isinstance(doc, dict) else None
    if decoder is None:
        return {}
    if not isinstance(decoder, dict):
        raise VocabularyError(f"{path}: added_tokens_decoder is not an object of id -> token")
    out: dict[str, tuple[int, bool]] = {}
    for key, entry in decoder.items():
        if not str(key).isdigit() or not isinstance(entry, dict) \
                or not isinstance(entry.get("content"), str):
            raise VocabularyError(f"{path}: added_tokens_decoder entry {key!r} is not "
                                  f"\"<id>\": {{\"content\": ...}}")
        out[entry["content"]] = (int(key), bool(entry.get("special", False)))
    return out


def _merge_added_tokens(from_json: dict, from_config: dict, source: str, config: str) -> dict:
    """The added tokens of both files.  tokenizer_config.json decides which
    are special (as transformers reads it); an id or a text the two files
    give differently is an error, since one of them is then wrong."""
    merged = dict(from_json)
    by_id = {token_id: text for text, (token_id, _) in from_json.items()}
    for text, (token_id, special) in from_config.items():
        if text in from_json and from_json[text][0] != token_id:
            raise VocabularyError(f"{config}: {text!r} has id {token_id}, but {from_json[text][0]} "
                                  f"in {source}")
        if by_id.get(token_id, text) != text:
            raise VocabularyError(f"{config}: id {token_id} is {text!r}, but "
                                  f"{by_id[token_id]!r} in {source}")
        merged[text] = (token_id, special)
    return merged


def vocab_merges_spec(vocab_path: str | os.PathLike, merges_path: str | os.PathLike | None = None,
                      *, special_tokens: dict[str, int] | None = None,
                      normalization: str | None = "NFC") -> VocabSpec:
    """A vocab.json (+ merges.txt) pair in the byte-level alphabet.

    The merges file is only checked to exist and parse: tiktoken's rule
    needs the ranks alone (ids are ranks), which is how Qwen2 defines them.
    """
    source = os.fspath(vocab_path)
    vocab = _json(vocab_path)
    if not isinstance(vocab, dict):
        raise VocabularyError(f"{source}: expected a JSON object of token -> id")
    if merges_path is not None:
        for line_no, line in enumerate(_read(merges_path).decode("utf-8", "replace").splitlines(), 1):
            if line.startswith("#version") or not line.strip():
                continue
            if len(line.split(" ")) != 2:
                raise VocabularyError(f"{os.fspath(merges_path)}, line {line_no}: expected 'left right'")
    ranks = _ranks_from_byte_level(vocab, source)
    specials = dict(special_tokens if special_tokens is not None else
                    {k: v for k, v in QWEN_SPECIAL_TOKENS.items() if v not in set(vocab.values())})
    spec = ranks_spec(ranks, specials, QWEN_PATTERN, normalization, source)
    spec.recipe = (vocab_merges_spec, (vocab_path, merges_path),
                   dict(special_tokens=special_tokens, normalization=normalization))
    return spec


# -- one build per recipe ------------------------------------------------------------

_build_lock = allocate_lock()     # a threading.Lock, without importing threading
_specs: dict[tuple, VocabSpec] = {}


def cached_spec(recipe: tuple) -> VocabSpec:
    """Build (once per process) the spec a recipe describes: get_encoding and
    unpickling both come here, so a vocabulary is loaded once however many
    Encodings share it."""
    fn, args, *rest = recipe
    kwargs = rest[0] if rest else {}
    try:
        key = (fn.__qualname__, tuple(os.fspath(a) if isinstance(a, os.PathLike) else a for a in args),
               tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        hash(key)
    except TypeError:
        return fn(*args, **kwargs)          # unhashable args (a ranks dict): no caching
    spec = _specs.get(key)
    if spec is None:
        # The build lock makes concurrent first calls load the file only once.
        with _build_lock:
            spec = _specs.get(key)
            if spec is None:
                spec = fn(*args, **kwargs)
                _specs[key] = spec
    return spec
