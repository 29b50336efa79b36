"""The language manifest (``corpora/languages.tsv``) and where qtok's bundled data lives.

Every corpus loader maps what it finds (a file name, a UDHR key, a value in a
language column) to one manifest entry, so all reports speak the same codes::

    >>> from qtok.languages import lookup
    >>> lookup("eng_Latn").code, lookup("zh-TW").name
    ('en', 'Chinese (Traditional)')

The bundled corpus and the manifest are installed as the data-only package
``qtok._corpus`` (setuptools maps the source folder ``corpora/`` to it).  In a
development tree that package may not be importable, so we fall back to the
``corpora/`` folder next to the ``qtok`` package directory.
"""
from __future__ import annotations

import csv
import functools
import io
import pathlib
from dataclasses import dataclass

from ..errors import LanguageError

__all__ = ["Language", "LanguageError", "bundled_dir", "languages", "lookup", "resolve_codes",
           "ENGLISH"]

#: The reference language for parity (tokens / English tokens).
ENGLISH = "en"

MANIFEST = "languages.tsv"
_COLUMNS = ("code", "name", "script", "spaces", "udhr", "leipzig", "extra", "aliases")


@dataclass(frozen=True)
class Language:
    """One row of the manifest."""

    code: str                 #: qtok's code, e.g. "en", "zh-Hant"
    name: str                 #: English name, e.g. "Chinese (Traditional)"
    script: str               #: as written in the manifest, e.g. "Han + Kana"
    spaces: bool              #: True if words are separated by spaces
    udhr: str | None          #: UDHR in Unicode file key (udhr_<key>.xml)
    leipzig: str | None       #: Leipzig file name, None if there is none
    extra: bool               #: True for languages not on Qwen2's list
    aliases: tuple[str, ...]  #: other accepted names

    @property
    def scripts(self) -> tuple[str, ...]:
        """Unicode script names used by the language ("Kana" expands to both kanas)."""
        out: list[str] = []
        for part in self.script.split("+"):
            part = part.strip()
            out += ["Hiragana", "Katakana"] if part == "Kana" else [part]
        return tuple(out)


def bundled_dir() -> pathlib.Path:
    """The folder that holds the bundled corpus and the manifest.

    Installed: ``qtok/_corpus`` (setuptools copies ``corpora/`` there).  A
    source tree or an editable install: ``<repo>/corpora``.  Plain paths, not
    ``importlib.resources``: ``qtok._corpus`` has no ``__init__.py``, and for
    such a package ``files()`` returns a MultiplexedPath that ``os.fspath``
    rejects.
    """
    package = pathlib.Path(__file__).resolve().parent.parent      # qtok/
    for candidate in (package / "_corpus", package.parent / "corpora"):
        if (candidate / "languages.tsv").is_file():
            return candidate
    raise LanguageError("the bundled corpus is missing from this installation (no "
                        "languages.tsv in qtok/_corpus or corpora/); reinstall qtok")


def _key(name: str) -> str:
    # Case-insensitive, and "zh_Hant" == "zh-Hant": codes are written both ways.
    return name.strip().lower().replace("_", "-")


@functools.lru_cache(maxsize=1)
def _manifest() -> tuple[tuple[Language, ...], dict[str, Language]]:
    source = bundled_dir() / MANIFEST
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LanguageError(f"the language manifest {source} is missing: reinstall qtok") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter="\t", quoting=csv.QUOTE_NONE)
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise LanguageError(f"{source}: expected the columns {', '.join(_COLUMNS)}")
    langs: list[Language] = []
    index: dict[str, Language] = {}
    for row in reader:
        lang = Language(
            code=row["code"], name=row["name"], script=row["script"],
            spaces=row["spaces"] == "yes",
            udhr=row["udhr"] if row["udhr"] != "-" else None,
            leipzig=row["leipzig"] if row["leipzig"] != "-" else None,
            extra=row["extra"] == "yes",
            aliases=tuple(a for a in row["aliases"].split(",") if a),
        )
        langs.append(lang)
        for name in (lang.code, *lang.aliases):
            other = index.setdefault(_key(name), lang)
            if other is not lang:
                raise LanguageError(f"{source}: {name!r} names both {other.code} and {lang.code}")
    return tuple(langs), index


def languages() -> tuple[Language, ...]:
    """All languages, in manifest order (English first)."""
    return _manifest()[0]


def find(name: str) -> Language | None:
    """The language a code, alias or English name refers to, or None."""
    return _manifest()[1].get(_key(name))


def lookup(name: str) -> Language:
    """Like ``find`` but raises LanguageError with the list of known codes."""
    lang = find(name)
    if lang is None:
        codes = ", ".join(lang.code for lang in languages())
        raise LanguageError(f"unknown language {name!r}: use one of {codes} (or an alias from "
                            f"{MANIFEST}, e.g. eng, eng_Latn, english)")
    return lang


def resolve_codes(spec: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """``"en,fr"`` or ``["en", "fra"]`` -> canonical codes in the order given (None -> None)."""
    if spec is None:
        return None
    items = spec.split(",") if isinstance(spec, str) else [p for s in spec for p in s.split(",")]
    codes: list[str] = []
    for item in items:
        if item.strip():
            code = lookup(item).code
            if code not in codes:
                codes.append(code)
    if not codes:
        raise LanguageError("no language codes given: use codes such as en,zh,ja")
    return codes


def order(codes) -> list[str]:
    """Codes sorted in manifest order (the order every report uses)."""
    rank = {lang.code: i for i, lang in enumerate(languages())}
    return sorted(codes, key=lambda c: rank.get(c, len(rank)))
