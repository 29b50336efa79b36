"""The compiled-table cache: a vocabulary's finished tables, kept on disk.

Parsing a tiktoken file and building the token hash and pair table is most of
the time of a first load; reading the finished tables back (the format is in
qtok/native/table_file.pxi) is a few fread calls.  They are kept in
$QTOK_CACHE_DIR, else $XDG_CACHE_HOME/qtok, else ~/.cache/qtok, under a name
derived from the vocabulary's sha256 and its special tokens, so a changed
file never meets stale tables.  QTOK_CACHE_DIR="" turns the cache off.  A
damaged cache file is detected by its checksum and rebuilt; a cache folder
that cannot be written is silently not used.
"""
from __future__ import annotations

import hashlib
import os

from ._bpe import TABLE_CACHE_FORMAT, CoreBPE


def cache_dir() -> str | None:
    """The folder of the cache files, or None when the cache is turned off."""
    configured = os.environ.get("QTOK_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "qtok")


def cache_path(vocab_sha256: str, special_tokens: dict[str, int]) -> str | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = vocab_sha256 + "".join(f"|{t}={i}" for t, i in sorted(special_tokens.items()))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return os.path.join(folder, f"tables-v{TABLE_CACHE_FORMAT}-{digest}.bin")


def _remove_other_formats(path: str) -> None:
    """Delete this vocabulary's cache files of older (or newer) layouts: a
    qtok upgrade would otherwise leave ~10 MB behind each time."""
    folder, name = os.path.split(path)
    digest_part = name.split("-", 2)[2]          # "<digest>.bin"
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        if other != name and other.startswith("tables-v") and other.endswith("-" + digest_part):
            try:
                os.unlink(os.path.join(folder, other))
            except OSError:
                pass


def _save(core: CoreBPE, path: str) -> None:
    """Write the tables next to their final name, then rename: readers see
    the old file or the new one, never half of one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    import tempfile                     # here: only a first load writes a cache
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tables-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(core.to_cache_bytes())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _remove_other_formats(path)


def core_from_tiktoken(data: bytes, vocab_sha256: str, special_tokens: dict[str, int],
                       source: str) -> CoreBPE:
    """The native tables of a tiktoken file's contents: from the cache when
    it holds them, else built (and then cached)."""
    path = cache_path(vocab_sha256, special_tokens)
    if path is not None:
        try:
            return CoreBPE.from_cache_file(path, special_tokens)
        except (OSError, ValueError):
            pass                        # absent or damaged: rebuild below
    core = CoreBPE.from_tiktoken_data(data, special_tokens, source)
    if path is not None:
        try:
            _save(core, path)
        except OSError:
            pass
    return core
