"""A small disk cache of model replies, under the user's cache directory.

Keyed by the full endpoint URL (query string included), a hash of the API
key, the model, the prompt version and the exact messages: asking twice costs
one request, and a reply made for one account or deployment is never served
to another.  Never inside a run directory (the caller checks; see
:func:`usable_cache_dir`).  Files are private (0600; every directory this
module creates is 0700), written atomically, and capped in size: a bigger
reply is not stored and a bigger or damaged file is not read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from scalable_tui.private_cache import private_dirs, write_private

SUBDIR = "llm"
#: Largest cache file read or written (a reply is a few KB; this is generous).
MAX_ENTRY_BYTES = 256 * 1024


def cache_key(endpoint: str, model: str, prompt_version: int, messages: list[dict[str, str]], api_key: str | None = None) -> str:
    """The entry name; the API key only enters as a hash, and never appears in the file."""
    key_hash = hashlib.sha256((api_key or "").encode("utf-8")).hexdigest()
    material = json.dumps(
        {"endpoint": endpoint, "api_key_sha256": key_hash, "model": model, "prompt_version": prompt_version, "messages": messages},
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
    """The entry, or None when missing, too big, truncated or not ours."""
    if directory is None:
        return None
    try:
        with open(directory / f"{key}.json", "rb") as fh:
            raw = fh.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_ENTRY_BYTES:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None  # truncated or damaged: ask again
    if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(doc.get("content"), str):
        return None
    return doc


def put(directory: Path | None, key: str, entry: dict[str, Any]) -> bool:
    """Store ``entry``; False (and no exception) when the cache is not writable or the entry too big."""
    if directory is None:
        return False
    data = json.dumps({"key": key, **entry}, ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_ENTRY_BYTES:
        return False
    try:
        private_dirs(directory)  # each missing directory 0700: replies describe the user's runs
        write_private(directory / f"{key}.json", data)
    except OSError:
        return False
    return True
