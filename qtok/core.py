"""The Python face of qtok: ``Encoding``, shaped like ``tiktoken.Encoding``.

Names, arguments, defaults and errors follow tiktoken, so switching is a
one-line import change.  Two things differ on purpose:

* Text is normalized to NFC before encoding, as Qwen's own tokenizer does
  (``normalization=None`` turns that off).
* ``count(text)`` returns the number of tokens without building a list.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Set as AbstractSet
# typing.TYPE_CHECKING without importing typing (2-5 ms): type checkers take
# any constant of this name as true, and the annotations are strings anyway.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Collection, Literal, Sequence

    from .stream import DecodeStream

from ._bpe import CoreBPE, holds_start, prepared_text
from .errors import InvalidToken, invalid_token
from .normalize import to_nfc
from .load import VocabSpec, cached_spec, ranks_spec
# Loading qtok.threads sets how many threads a long text gets (QTOK_NUM_THREADS,
# else one per core); every Encoding comes through here, whichever name of the
# package a program touched first.
from . import threads as _threads  # noqa: F401

__all__ = ["Encoding", "InvalidToken"]

#: The default of allowed_special: no special token is read as one.  Compared
#: by identity, so the common call skips resolving the arguments.
_NO_SPECIALS: frozenset[str] = frozenset()


class Encoding:
    """A byte-level BPE tokenizer for the Qwen pattern.

    Build one with ``qtok.get_encoding("qwen")`` or one of the loaders in
    ``qtok`` (``load_tiktoken_file``, ``load_tokenizer_json``,
    ``load_vocab_merges``).  The constructor mirrors tiktoken's, for code that
    builds an Encoding from a ranks dict.
    """

    def __init__(self, name: str, *, pat_str: str, mergeable_ranks: dict[bytes, int],
                 special_tokens: dict[str, int], explicit_n_vocab: int | None = None,
                 normalization: str | None = "NFC"):
        spec = ranks_spec(mergeable_ranks, special_tokens, pat_str, normalization, name)
        spec.recipe = (_spec_from_ranks, (mergeable_ranks, special_tokens, pat_str, normalization))
        self._setup(name, spec)
        if explicit_n_vocab is not None and explicit_n_vocab != self.n_vocab:
            raise ValueError(f"explicit_n_vocab is {explicit_n_vocab}, the vocabulary has {self.n_vocab}")

    @classmethod
    def _from_spec(cls, name: str, spec: VocabSpec) -> "Encoding":
        self = cls.__new__(cls)
        self._setup(name, spec)
        return self

    def _setup(self, name: str, spec: VocabSpec) -> None:
        self.name = name
        self._core: CoreBPE = spec.core
        self._pat_str = spec.pat_str
        self._special_tokens = dict(spec.special_tokens)
        self._special_token_values = frozenset(self._special_tokens.values())   # as tiktoken
        # The first two characters of the special tokens ("<|" for Qwen's):
        # text without any of them holds no special token.  (The first
        # character alone is not enough: "<" is common, in HTML or in the
        # Tagalog news corpus, and each special then cost a scan of its own.)
        # For the native search (holds_start): each first character with the
        # characters that may follow it (none: it is a whole token, or more
        # than the search takes; the first alone then counts).
        starts = sorted({s[:2] for s in self._special_tokens if s})
        following: dict[str, set[str]] = {}
        for start in starts:
            following.setdefault(start[0], set()).add(start[1:])
        self._special_start_codes = tuple(
            (ord(first), () if "" in seconds or len(seconds) > 16
             else tuple(sorted(ord(c) for c in seconds)))
            for first, seconds in sorted(following.items()))
        # The one character all of them start with, if there is one: tested
        # inline by encode and count, a method call fewer per short text.
        firsts = {start[0] for start in starts}
        self._special_first = firsts.pop() if len(firsts) == 1 else None
        self._normalization = spec.normalization
        # What the core applies to text before encoding it (see encode_ordinary).
        self._normalize = to_nfc if spec.normalization == "NFC" else None
        # Added tokens found in the raw text, before normalizing the rest
        # (Hugging Face's rule), or in the normalized text (Qwen-1's).
        self._specials_in_raw = spec.added_tokens == "raw" and self._normalize is not None
        # With the default special-token arguments, encode and count look
        # for special tokens in the text normalized now, or (found in the raw
        # text) in the raw text, which the core then normalizes later.
        self._normalize_now = None if self._specials_in_raw else self._normalize
        self._normalize_later = self._normalize if self._specials_in_raw else None
        self._skip_ids = spec.skip_ids
        self._recipe = spec.recipe
        if spec.normalization not in (None, "NFC"):
            raise ValueError(f"normalization must be 'NFC' or None, not {spec.normalization!r}")

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # -- pickling: rebuild from the recipe, never ship the tables ---------------

    def __reduce__(self):
        if not self._recipe:
            raise TypeError(f"{self!r} cannot be pickled: it was not built by a qtok loader")
        return (_rebuild, (self.name, self._recipe))

    # -- text preparation ------------------------------------------------------

    def _prepare(self, text: str) -> str:
        return prepared_text(text, self._normalize)

    @staticmethod
    def _fix_surrogates(text: str) -> str:
        # Lone surrogates cannot be UTF-8; tiktoken replaces them with U+FFFD
        # by a UTF-16 round trip, and so do we, so ids still match.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def _call(self, fn, text: str, *args):
        try:
            return fn(text, *args)
        except UnicodeEncodeError:
            return fn(self._fix_surrogates(text), *args)

    def _may_hold_special(self, text: str) -> bool:
        """False when text surely holds no special token (text: a str)."""
        return holds_start(text, self._special_start_codes)

    def _check_special(self, text: str, allowed_special, disallowed_special) -> frozenset[str]:
        """Resolve allowed_special / disallowed_special as tiktoken does, and
        raise if text holds a disallowed special token.  Returns the allowed set."""
        if allowed_special is _NO_SPECIALS and disallowed_special == "all" \
                and not self._may_hold_special(text):
            return _NO_SPECIALS                     # the defaults, and no special token in text
        specials = self._special_tokens
        if allowed_special == "all":
            allowed = frozenset(specials)
        elif not isinstance(allowed_special, AbstractSet):
            # tiktoken takes "all" or a set, and fails on anything else
            # (a list, "none", a bare token): so does qtok, with a message.
            raise TypeError(f"allowed_special must be 'all' or a set of special tokens, "
                            f"not {type(allowed_special).__name__} {allowed_special!r}")
        else:
            # tiktoken ignores allowed strings that are not special tokens.
            allowed = frozenset(s for s in allowed_special if s in specials)
        if disallowed_special == "all":
            disallowed = [s for s in specials if s not in allowed]
        else:                                    # None or () turns the check off, as in tiktoken
            disallowed = list(disallowed_special or ())
        if disallowed:
            first = None
            for s in disallowed:
                i = text.find(s)
                if i >= 0 and (first is None or i < first[0]):
                    first = (i, s)
            if first is not None:
                _raise_disallowed(first[1])
        return allowed

    # -- encoding ----------------------------------------------------------------

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text, treating special tokens as plain text."""
        # The core prepares the text itself (prepared_text, as _prepare
        # does): two Python calls fewer per text, which shows on short texts.
        try:
            return self._core.encode_ordinary(text, self._normalize)
        except UnicodeEncodeError:
            return self._core.encode_ordinary(self._fix_surrogates(self._prepare(text)))

    def encode(self, text: str, *, allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
               disallowed_special: Literal["all"] | Collection[str] = "all") -> list[int]:
        """Encode text; special tokens in ``allowed_special`` become their ids.

        Text that spells a special token in ``disallowed_special`` (by default
        every special token not allowed) raises ValueError, as in tiktoken.
        "Special tokens" are all of the encoding's added tokens, those Hugging
        Face marks special and the others (``<think>``, ``<tool_call>``).
        """
        if allowed_special is _NO_SPECIALS and disallowed_special == "all":
            # The defaults and no special token in sight, as nearly always:
            # straight to the core, without a Python call between (the
            # general path below costs ~0.7 us more per call, about the time
            # of encoding a sentence).
            # Inline, not a method: a call costs ~80 ns of a ~250 ns encode("hello").
            text = prepared_text(text, self._normalize_now)
            first = self._special_first
            if (first is not None and first not in text) or not self._may_hold_special(text):
                try:
                    return self._core.encode_ordinary(text, self._normalize_later)
                except UnicodeEncodeError:
                    return self._core.encode_ordinary(self._fix_surrogates(self._prepare(text)))
        return self._encode_plan(self._plan(text, allowed_special, disallowed_special))

    def _plan(self, text, allowed_special, disallowed_special,
              whole_later: bool = False) -> "str | list[str | int]":
        """What encoding ``text`` comes to: one normalized str when no allowed
        special token is in it, else its parts in order, each a normalized
        str or a special token's id.  Raises (ValueError) for a disallowed
        special token, as tiktoken; a type error for text that is no str.

        Where special tokens are looked for follows the encoding: in the raw
        text, each stretch between them normalized on its own (Hugging Face,
        Qwen1.5 on), or in the normalized text (Qwen-1).  whole_later: a
        plan of one str is left for the core to normalize (with
        ``_normalize_later``), which checks a long text on its threads."""
        text = prepared_text(text, self._normalize_now)
        allowed = self._check_special(text, allowed_special, disallowed_special)
        later = self._normalize_later
        if not (allowed and any(s in text for s in allowed)):
            return later(text) if later and not whole_later else text
        parts: list[str | int] = []
        for segment, special in self._split_specials(text, allowed):
            if segment:
                parts.append(later(segment) if later else segment)
            if special is not None:
                parts.append(self._special_tokens[special])
        return parts

    def _split_specials(self, text: str, allowed: frozenset[str]):
        """Yield (plain text, special token or None), leftmost match first,
        longest first when two specials start at the same place."""
        pos = 0
        order = sorted(allowed, key=len, reverse=True)
        # Where each special next occurs; searched again only once passed,
        # so each special costs one scan of the text in total (searching
        # all of them after every match was quadratic on text with many).
        upcoming = {s: text.find(s) for s in order}
        while True:
            best = None
            for s in order:
                i = upcoming[s]
                if 0 <= i < pos:
                    i = upcoming[s] = text.find(s, pos)
                if i >= 0 and (best is None or i < best[0]):
                    best = (i, s)
            if best is None:
                yield text[pos:], None
                return
            yield text[pos:best[0]], best[1]
            pos = best[0] + len(best[1])

    def encode_to_numpy(self, text: str, *, allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                        disallowed_special: Literal["all"] | Collection[str] = "all"):
        """Encode to a numpy uint32 array, without building a Python list."""
        import numpy as np
        plan = self._plan(text, allowed_special, disallowed_special, whole_later=True)
        if not isinstance(plan, str):
            return np.asarray(self._encode_plan(plan), dtype=np.uint32)
        # The ids stay in the memory the encoder wrote them to: the array
        # wraps it (and frees it when it goes), no copy.
        ids = self._call(self._core.encode_ordinary_buffer, plan, self._normalize_later)
        return np.frombuffer(ids, dtype=np.uint32)

    def _encode_plan(self, plan) -> list[int]:
        if isinstance(plan, str):
            return self._call(self._core.encode_ordinary, plan)
        out: list[int] = []
        for part in plan:
            if isinstance(part, str):
                out += self._call(self._core.encode_ordinary, part)
            else:
                out.append(part)
        return out

    def count(self, text: str, *, allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
              disallowed_special: Literal["all"] | Collection[str] = "all") -> int:
        """The number of tokens ``encode`` would return, without the list."""
        if allowed_special is _NO_SPECIALS and disallowed_special == "all":
            text = prepared_text(text, self._normalize_now)  # the common case, as in encode
            first = self._special_first
            if (first is not None and first not in text) or not self._may_hold_special(text):
                try:
                    return self._core.count(text, self._normalize_later)
                except UnicodeEncodeError:
                    return self._core.count(self._fix_surrogates(self._prepare(text)))
        return self._count_plan(self._plan(text, allowed_special, disallowed_special))

    def _count_plan(self, plan) -> int:
        if isinstance(plan, str):
            return self._call(self._core.count, plan)
        return sum(self._call(self._core.count, part) if isinstance(part, str) else 1
                   for part in plan)

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int = 8) -> list[list[int]]:
        """Encode many texts on native threads (the GIL is released)."""
        return self._batch(self._prepare_batch(text), _check_num_threads(num_threads), nfc=True)

    def encode_batch(self, text: Sequence[str], *, num_threads: int = 8,
                     allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                     disallowed_special: Literal["all"] | Collection[str] = "all") -> list[list[int]]:
        """``encode`` over many texts, on native threads."""
        return self._special_batch(text, num_threads, False, allowed_special, disallowed_special)

    def count_batch(self, text: Sequence[str], *, num_threads: int = 8,
                    allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                    disallowed_special: Literal["all"] | Collection[str] = "all") -> list[int]:
        """``count`` over many texts, on native threads: the same arguments,
        defaults and errors, so that count_batch(texts) == [len(ids) for ids
        in encode_batch(texts)]."""
        return self._special_batch(text, num_threads, True, allowed_special, disallowed_special)

    def _special_batch(self, texts, num_threads, as_count, allowed_special, disallowed_special):
        """encode_batch / count_batch: every text checked for special tokens
        first (an error leaves no work half done), then one native batch when
        none is to be read as one."""
        num_threads = _check_num_threads(num_threads)
        raw = self._prepare_batch(texts)
        if allowed_special is _NO_SPECIALS and disallowed_special == "all" and self._specials_in_raw:
            # The common case: raw texts holding no special token are
            # normalized on the batch's threads (nfc=True).
            first = self._special_first
            if all((first is not None and first not in t) or not self._may_hold_special(t)
                   for t in raw):
                return self._batch(raw, num_threads, as_count, nfc=True)
        plans = [self._plan(t, allowed_special, disallowed_special) for t in raw]
        if all(isinstance(plan, str) for plan in plans):
            return self._batch(plans, num_threads, as_count)
        if as_count:
            return [self._count_plan(plan) for plan in plans]
        return [self._encode_plan(plan) for plan in plans]

    def _prepare_batch(self, texts: Sequence[str]) -> list[str]:
        """The texts as str, not normalized yet (_batch is then told to
        normalize them: nfc=True)."""
        if isinstance(texts, str):
            raise TypeError("expected a sequence of str, got a single str")
        try:
            return [prepared_text(t, None) for t in texts]
        except TypeError:
            _name_the_row(texts, lambda t: prepared_text(t, None))
            raise

    def _batch(self, texts: list[str], num_threads: int, as_count: bool = False, nfc: bool = False):
        """encode_ordinary_batch of the core, on num_threads (checked by the
        caller: _check_num_threads).  nfc: the texts are not normalized yet;
        the core's threads check them (see there)."""
        native = self._normalize if nfc else None
        try:
            return self._core.encode_ordinary_batch(texts, num_threads, as_count, native)
        except UnicodeEncodeError:
            # Some text holds a lone surrogate (rare): repair those and retry,
            # rather than paying a UTF-8 check on every text up front.
            return self._core.encode_ordinary_batch(
                [self._fix_surrogates(t) if _has_surrogate(t) else t for t in texts],
                num_threads, as_count, native)

    # -- tiktoken's less common methods (qtok/compat.py) ----------------------------

    # -- Arrow columns (qtok.arrow) ----------------------------------------------

    def encode_ordinary_arrow(self, column, *, num_threads: int | None = None,
                              large_list: bool = False):
        """``encode_ordinary`` of every row of an Arrow string column (pyarrow,
        polars, DuckDB, ...: anything with ``__arrow_c_stream__`` or
        ``__arrow_c_array__``), read in place and encoded on native threads.
        Returns a pyarrow ``ListArray`` of uint32 ids (``LargeListArray``
        with large_list, or past 2**31 - 1 ids); null rows stay null.
        num_threads: None for one per core (as for batches)."""
        from .arrow import encode_column
        return encode_column(self, column, num_threads=_check_num_threads(num_threads),
                             large_list=large_list)

    def encode_arrow(self, column, *, num_threads: int | None = None, large_list: bool = False,
                     allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                     disallowed_special: Literal["all"] | Collection[str] = "all"):
        """``encode`` of every row of an Arrow string column, with its
        special-token arguments, defaults and errors (a row that spells a
        disallowed special token raises ValueError naming the row); otherwise
        as encode_ordinary_arrow."""
        from .arrow import encode_column
        return encode_column(self, column, num_threads=_check_num_threads(num_threads),
                             specials=(allowed_special, disallowed_special), large_list=large_list)

    def count_ordinary_arrow(self, column, *, num_threads: int | None = None):
        """``len(encode_ordinary(row))`` of every row, as a pyarrow Int64Array."""
        from .arrow import count_column
        return count_column(self, column, num_threads=_check_num_threads(num_threads))

    def count_arrow(self, column, *, num_threads: int | None = None,
                    allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                    disallowed_special: Literal["all"] | Collection[str] = "all"):
        """``count`` of every row (``encode``'s special-token arguments), as a
        pyarrow Int64Array; null rows stay null."""
        from .arrow import count_column
        return count_column(self, column, num_threads=_check_num_threads(num_threads),
                            specials=(allowed_special, disallowed_special))

    def count_ordinary(self, text: str) -> int:
        """``len(encode_ordinary(text))``, without building the list."""
        try:
            return self._core.count(text, self._normalize)
        except UnicodeEncodeError:
            return self._core.count(self._fix_surrogates(self._prepare(text)))

    def encode_with_unstable(self, text: str, *,
                             allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                             disallowed_special: Literal["all"] | Collection[str] = "all"
                             ) -> tuple[list[int], list[list[int]]]:
        """The stable ids of text, and the id sequences its end could
        continue as (tiktoken's, whose API calls itself unstable)."""
        from . import compat
        return compat.encode_with_unstable(self, text, allowed_special, disallowed_special)

    def _encode_bytes(self, text: bytes) -> list[int]:
        """Ids of bytes that may not be valid UTF-8, as tiktoken's (no NFC)."""
        from . import compat
        return compat.encode_bytes(self, text)

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        """BPE of the whole input as one piece (no pattern split, no specials)."""
        from . import compat
        return compat.encode_single_piece(self, text_or_bytes)

    def _encode_only_native_bpe(self, text: str) -> list[int]:
        """encode_ordinary, splitting and merging in two steps (as tiktoken's)."""
        from . import compat
        return compat.encode_only_native_bpe(self, text)

    @functools.cached_property
    def _sorted_token_bytes(self) -> list[bytes]:
        return self.token_byte_values()

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of a text that is exactly one token; KeyError otherwise."""
        if not isinstance(text_or_bytes, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"expected the str or bytes of one token, got "
                            f"{type(text_or_bytes).__name__} {text_or_bytes!r}")
        if isinstance(text_or_bytes, str):
            if text_or_bytes in self._special_tokens:
                return self._special_tokens[text_or_bytes]
            text_or_bytes = text_or_bytes.encode("utf-8")
        rank = self._core.lookup_bytes(bytes(text_or_bytes))
        if rank is None:
            raise KeyError(text_or_bytes)
        return rank

    # -- decoding ----------------------------------------------------------------

    def decode_bytes(self, tokens: Sequence[int], *, skip_special_tokens: bool = False) -> bytes:
        """The bytes of a sequence of ids (InvalidToken, a ValueError, for a bad id).

        ``skip_special_tokens=True`` leaves out the tokens marked special, as
        Hugging Face does: ``<|im_end|>`` goes, ``<think>`` and
        ``<tool_call>`` stay (Qwen-1: every added token goes)."""
        return self._decoded(self._core.decode_bytes, tokens, self._skipping(skip_special_tokens))

    def decode(self, tokens: Sequence[int], errors: str = "replace", *,
               skip_special_tokens: bool = False) -> str:
        """Decode ids to text; invalid UTF-8 is handled per ``errors`` (as in
        ``bytes.decode``: "replace", "strict", "ignore", "surrogateescape", ...).
        ``skip_special_tokens``: as in decode_bytes."""
        if not isinstance(errors, str):
            raise TypeError(f"errors must be a str, not {type(errors).__name__}")
        return self._decoded(self._core.decode_text, tokens, errors,
                             self._skipping(skip_special_tokens))

    def _skipping(self, skip_special_tokens: bool):
        """The core's skip mask for skip_special_tokens, or None."""
        if not skip_special_tokens:
            return None
        return self._skip_mask

    @functools.cached_property
    def _skip_mask(self) -> bytes:
        mask = bytearray(self._core.n_ids)
        for token in self._skip_ids:
            mask[token] = 1
        return bytes(mask)

    def _decoded(self, decode, tokens, *args):
        """A core decoder's result.  The core rejects None and non-integer ids
        with a TypeError that does not say which item; this one does.  A
        numpy array of another integer type than uint32 (np.array(ids) is
        int64) is checked and converted in one step, not read id by id."""
        dtype = getattr(tokens, "dtype", None)
        if dtype is not None and dtype.kind in "iu" and dtype.name != "uint32":
            tokens = _as_uint32(tokens, self._core.n_ids)
        try:
            return decode(tokens, *args)
        except TypeError:
            _raise_if_not_ids(tokens)
            raise

    def decode_single_token_bytes(self, token: int) -> bytes:
        return self._core.token_bytes(self._checked_id(token))

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        return [self._core.token_bytes(self._checked_id(t)) for t in tokens]

    def _checked_id(self, token) -> int:
        index = _as_index(token)
        # Range-check here: the core takes a C ssize_t, and ids beyond it
        # would raise OverflowError instead of InvalidToken.
        if not 0 <= index < self._core.n_ids:
            raise invalid_token(token)
        return index

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """Text and, per token, the character offset where it starts (as tiktoken)."""
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len = 0
        offsets = []
        for token in token_bytes:
            # A continuation byte (0b10xxxxxx) does not start a character.
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        return b"".join(token_bytes).decode("utf-8", errors="strict"), offsets

    def decode_stream(self, *, skip_special_tokens: bool = False) -> "DecodeStream":
        """An incremental decoder for ids as a model generates them:
        ``dec.step(id)`` returns the new text, or None while a character is
        incomplete (see qtok.stream)."""
        from .stream import DecodeStream
        return DecodeStream(self.decode_single_token_bytes,
                            self._skip_ids if skip_special_tokens else frozenset())

    def encode_with_offsets(self, text: str, *,
                            allowed_special: Literal["all"] | AbstractSet[str] = _NO_SPECIALS,
                            disallowed_special: Literal["all"] | Collection[str] = "all"
                            ) -> tuple[list[int], list[tuple[int, int]]]:
        """``encode(text)`` and, per token, the (start, end) characters of
        ``text`` it comes from -- Hugging Face's ``Encoding.offsets`` on the
        same text (see qtok.offsets): a token holding part of a character
        spans all of it, and spans point into text as given, before NFC."""
        from .offsets import nfc_alignment, token_spans
        import numpy as np
        raw = prepared_text(text, None)
        if _has_surrogate(raw):
            raw = self._fix_surrogates(raw)
        normalize = self._normalize is not None
        if not self._specials_in_raw and normalize:
            # Qwen-1's rule: special tokens are looked for in the normalized text.
            source, starts, ends = nfc_alignment(raw)
        else:
            source, starts, ends = raw, None, None
        allowed = self._check_special(source, allowed_special, disallowed_special)
        lengths = self._token_lengths
        ids: list[int] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        for segment, special in (self._split_specials(source, allowed) if allowed
                                 else [(source, None)]):
            if segment:
                if starts is None:          # normalize this stretch on its own
                    norm, a, b = nfc_alignment(segment) if normalize else (
                        segment, np.arange(len(segment)), np.arange(1, len(segment) + 1))
                    shift = pos
                else:
                    norm, a, b = segment, starts[pos:pos + len(segment)], ends[pos:pos + len(segment)]
                    shift = 0
                part = self._core.encode_ordinary(norm)
                ids += part
                spans += token_spans(norm, a, b, lengths[part], shift)
                pos += len(segment)
            if special is not None:
                ids.append(self._special_tokens[special])
                if starts is None:
                    spans.append((pos, pos + len(special)))
                else:
                    spans.append((int(starts[pos]), int(ends[pos + len(special) - 1])))
                pos += len(special)
        return ids, spans

    @functools.cached_property
    def _token_lengths(self):
        import numpy as np
        return np.frombuffer(self._core.token_lengths(), dtype=np.uint32)

    def decode_batch(self, batch: Sequence[Sequence[int]], *, errors: str = "replace",
                     num_threads: int = 8, skip_special_tokens: bool = False) -> list[str]:
        """decode() of each sequence.  num_threads is taken as tiktoken takes
        it and checked, but decoding runs on the calling thread: it holds
        the GIL for most of its work, and on threads a batch ran at half
        the speed (docs/design.md)."""
        _check_num_threads(num_threads)
        try:
            return [self.decode(tokens, errors=errors, skip_special_tokens=skip_special_tokens)
                    for tokens in batch]
        except (InvalidToken, TypeError):
            _name_the_row(batch, lambda tokens: self.decode(
                tokens, errors=errors, skip_special_tokens=skip_special_tokens))
            raise

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int = 8,
                           skip_special_tokens: bool = False) -> list[bytes]:
        """decode_bytes() of each sequence; num_threads as in decode_batch."""
        _check_num_threads(num_threads)
        try:
            return [self.decode_bytes(tokens, skip_special_tokens=skip_special_tokens)
                    for tokens in batch]
        except (InvalidToken, TypeError):
            _name_the_row(batch, lambda tokens: self.decode_bytes(
                tokens, skip_special_tokens=skip_special_tokens))
            raise

    # -- the vocabulary ------------------------------------------------------------

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every regular token, sorted (as tiktoken returns them)."""
        return sorted(b for b, _ in self._core.regular_token_bytes())

    @functools.cached_property
    def _mergeable_ranks(self) -> dict[bytes, int]:
        return dict(self._core.regular_token_bytes())

    @property
    def eot_token(self) -> int:
        return self._special_tokens["<|endoftext|>"]

    @functools.cached_property
    def special_tokens_set(self) -> set[str]:
        return set(self._special_tokens)

    def is_special_token(self, token: int) -> bool:
        return token in self._special_token_values

    @property
    def n_vocab(self) -> int:
        """Number of ids: one more than the largest (regular or special)."""
        return self._core.n_ids

    @property
    def max_token_value(self) -> int:
        return self._core.n_ids - 1

    @property
    def normalization(self) -> str | None:
        return self._normalization


def _as_uint32(ids, n_ids: int):
    """A numpy integer array as a contiguous uint32 one, after checking that
    every id is in the vocabulary (InvalidToken names the first that is not)."""
    import numpy as np
    array = np.asarray(ids)
    if array.ndim != 1:
        raise TypeError(f"expected a 1-D array of token ids, got {array.ndim} dimensions")
    if array.size:
        bad = np.flatnonzero((array < 0) | (array >= n_ids))
        if bad.size:
            raise invalid_token(array[bad[0]].item())
    return np.ascontiguousarray(array, dtype=np.uint32)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _as_index(token) -> int:
    try:
        return int(token.__index__())
    except AttributeError:
        raise TypeError(f"token ids are ints, got {token!r} ({type(token).__name__})") from None


def _raise_if_not_ids(tokens) -> None:
    """After the core rejected ``tokens`` with a TypeError: raise one that
    names the first item that is not an int (only lists and tuples can be
    re-read; for anything else the core's own error stands)."""
    if isinstance(tokens, (list, tuple)):
        for i, token in enumerate(tokens):
            if not hasattr(type(token), "__index__"):
                raise TypeError(f"token ids are ints, got {token!r} ({type(token).__name__}) "
                                f"at position {i}") from None


def _name_the_row(batch, do_one) -> None:
    """After a batch method raised an InvalidToken or a TypeError for one of
    its rows: find the row by running do_one on each again, and raise its
    error, of the same type, saying which row it was (only lists and tuples
    can be read again; for anything else the first error stands)."""
    if isinstance(batch, (list, tuple)):
        for row, item in enumerate(batch):
            try:
                do_one(item)
            except (InvalidToken, TypeError) as e:
                if type(e) in (InvalidToken, TypeError):
                    raise type(e)(f"{e} (row {row} of the batch)") from None
                raise


def _check_num_threads(num_threads) -> int:
    """The one rule for every batch method's num_threads: None for one thread
    per core, else an int of at least 1; never more threads than the cores
    this process may run on (more only take turns on them)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if num_threads is None:
        return cores
    if not isinstance(num_threads, int):
        raise TypeError(f"num_threads must be an int or None, not {type(num_threads).__name__}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1 (or None: one per core), got {num_threads}")
    return min(num_threads, cores)


def _raise_disallowed(token: str):
    # tiktoken's wording, word for word: code matches on it.
    raise ValueError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        "If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


def _spec_from_ranks(mergeable_ranks, special_tokens, pat_str, normalization) -> VocabSpec:
    spec = ranks_spec(mergeable_ranks, special_tokens, pat_str, normalization)
    spec.recipe = (_spec_from_ranks, (mergeable_ranks, special_tokens, pat_str, normalization))
    return spec


def _rebuild(name: str, recipe: tuple) -> Encoding:
    return Encoding._from_spec(name, cached_spec(recipe))
