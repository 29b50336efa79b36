"""The compiled-table cache: a vocabulary's finished tables, kept on disk.

Parsing a tiktoken file and building the token hash and pair table is most of
the time of a first load; reading the finished tables back (the format is in
qtok/native/table_file.pxi) is a few fread calls.  They are kept in
$QTOK_CACHE_DIR, else $XDG_CACHE_HOME/qtok, else ~/.cache/qtok, under a name
derived from the vocabulary's sha256, its special tokens and the qtok build.
The same digest and build id are inside the file, under its checksum, and
compared on load: a changed vocabulary file, a cache of another vocabulary
put at this name, or one written by another build is never loaded, but
rebuilt.  QTOK_CACHE_DIR="" turns the cache off.  A damaged cache file is
detected by its checksum and rebuilt; a cache folder that cannot be written
is silently not used.
"""
from __future__ import annotations

import os
import stat

from ._bpe import NATIVE_BUILD_ID, TABLE_CACHE_FORMAT, CoreBPE


def cache_dir() -> str | None:
    """The folder of the cache files, or None when the cache is turned off."""
    configured = os.environ.get("QTOK_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "qtok")


def source_digest(vocab_sha256: str, special_tokens: dict[str, int]) -> bytes:
    """The 32-byte digest of what a vocabulary's tables are built from: the
    sha256 of the vocabulary file's exact bytes, and the special tokens.  It
    is in the cache file's name and, checked on load, inside the file."""
    import hashlib          # here, not at import: it starts OpenSSL (2-3 ms)
    key = vocab_sha256 + "".join(f"|{t}={i}" for t, i in sorted(special_tokens.items()))
    return hashlib.sha256(key.encode("utf-8")).digest()


def cache_path(vocab_sha256: str, special_tokens: dict[str, int]) -> str | None:
    folder = cache_dir()
    if folder is None:
        return None
    digest = source_digest(vocab_sha256, special_tokens).hex()[:24]
    return os.path.join(folder, f"tables-v{TABLE_CACHE_FORMAT}-{digest}-{NATIVE_BUILD_ID[:12]}.bin")


def _remove_other_versions(path: str) -> None:
    """Delete this vocabulary's cache files of other layouts and other
    builds: a qtok upgrade would otherwise leave ~12 MB behind each time."""
    folder, name = os.path.split(path)
    digest = name.split("-")[2]                  # tables-v<format>-<digest>[-<build>].bin
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        parts = other.split("-")
        if other != name and other.startswith("tables-v") and len(parts) >= 3 \
                and parts[2].split(".")[0] == digest:
            try:
                os.unlink(os.path.join(folder, other))
            except OSError:
                pass


def _save(core: CoreBPE, path: str, digest: bytes) -> None:
    """Write the tables next to their final name, then rename: readers see
    the old file or the new one, never half of one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    import tempfile                     # here: only a first load writes a cache
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tables-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(core.to_cache_bytes(digest))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _remove_other_versions(path)


def _load(path: str, special_tokens: dict[str, int], digest: bytes) -> CoreBPE | None:
    """The tables in the cache file at path, or None when there is no
    usable one.  Only a regular file is read, opened without blocking, so a
    FIFO or a device at that name is passed over instead of hanging."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return CoreBPE.from_cache_file(fd, path, special_tokens, digest)
    except (OSError, ValueError):
        return None                     # damaged, or of another vocabulary or build
    finally:
        os.close(fd)


def core_from_tiktoken(data: bytes, vocab_sha256: str, special_tokens: dict[str, int],
                       source: str) -> CoreBPE:
    """The native tables of a tiktoken file's contents: from the cache when
    it holds them, else built (and then cached).  vocab_sha256 must be the
    sha256 of data itself."""
    path = cache_path(vocab_sha256, special_tokens)
    digest = source_digest(vocab_sha256, special_tokens)
    if path is not None:
        core = _load(path, special_tokens, digest)
        if core is not None:
            return core
    core = CoreBPE.from_tiktoken_data(data, special_tokens, source)
    if path is not None:
        try:
            _save(core, path, digest)
        except OSError:
            pass
    return core
