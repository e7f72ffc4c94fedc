"""A content-addressed cache for prepared datasets, written atomically.

A key is a hash of the preparation config and the source files' bytes, so a changed file or
setting never loads stale tensors, and a run killed half-way never leaves a file that a later
run could mistake for complete (temp file + ``os.replace``, checked on load).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from musicgen.paths import cache_dir

_MAGIC = b"MUSICGEN-CACHE-1\n"


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.blake2b(digest_size=16)
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_key(config: dict[str, Any], files: Iterable[str | Path] = ()) -> str:
    """Hash of a JSON-able config and the contents of ``files`` (order-independent)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    for digest in sorted(file_digest(f) for f in files):
        h.update(digest.encode())
    return h.hexdigest()


def cache_path(namespace: str, key: str) -> Path:
    """Where ``key`` is cached; the folder is made when possible (a read-only one is allowed)."""
    folder = cache_dir() / namespace
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # ``save`` says so when it cannot write there; loading just finds nothing
    return folder / f"{key}.pkl"


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(path: Path, obj: Any) -> bool:
    """Pickle ``obj`` with a header and a checksum, atomically; False (and one warning line)
    when the cache folder cannot be written, since the caller still holds ``obj`` in memory."""
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.blake2b(body, digest_size=16).hexdigest().encode()
    try:
        atomic_write_bytes(path, _MAGIC + digest + b"\n" + body)
    except OSError as error:
        print(
            f"warning: cannot write the cache in {path.parent} ({error.strerror or error}): "
            "prepared in memory only, so the next run prepares again (set MUSICGEN_CACHE_DIR "
            "to a writable folder)",
            file=sys.stderr,
        )
        return False
    return True


def load(path: Path) -> Any | None:
    """The cached object, or None when missing, unreadable, truncated or corrupt (a corrupt
    file is removed when its folder allows it; ``save`` then rewrites it or says why not)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    header_end = len(_MAGIC) + 33
    ok = raw.startswith(_MAGIC) and len(raw) > header_end
    if ok:
        digest, body = raw[len(_MAGIC) : header_end - 1], raw[header_end:]
        ok = hashlib.blake2b(body, digest_size=16).hexdigest().encode() == digest
    if not ok:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        return None
    return pickle.loads(body)
