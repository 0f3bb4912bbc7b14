"""A small disk cache of model replies, under the user's cache directory.

Keyed by endpoint (without credentials), model, prompt version and the exact
messages: asking twice costs one request.  Never inside a run directory (the
caller checks; see :func:`usable_cache_dir`).  Files are private (0600 in a
0700 directory) and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from assistant.llm.config import safe_url

SUBDIR = "llm"


def cache_key(endpoint: str, model: str, prompt_version: int, messages: list[dict[str, str]]) -> str:
    material = json.dumps(
        {"endpoint": safe_url(endpoint), "model": model, "prompt_version": prompt_version, "messages": messages},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def usable_cache_dir(base: Path | None, forbidden: list[Path] | None = None) -> Path | None:
    """``base/llm``, or None when it would lie inside one of ``forbidden`` (run directories)."""
    if base is None:
        return None
    d = base / SUBDIR
    for root in forbidden or []:
        try:
            d.resolve().relative_to(Path(root).resolve())
        except (ValueError, OSError):
            continue
        return None
    return d


def get(directory: Path | None, key: str) -> dict[str, Any] | None:
    if directory is None:
        return None
    try:
        doc = json.loads((directory / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("key") == key else None


def put(directory: Path | None, key: str, entry: dict[str, Any]) -> bool:
    """Store ``entry``; False (and no exception) when the cache is not writable."""
    if directory is None:
        return False
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, **entry}, fh, ensure_ascii=False)
            os.chmod(tmp, 0o600)
            os.replace(tmp, directory / f"{key}.json")
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return False
    return True
