"""Checksums of migration files.

Line endings are normalised before hashing so that a checkout on Windows
(CRLF) or a ConfigMap round-trip does not look like an edit; nothing else is
normalised, because any other change to the text may change what runs.
"""

from __future__ import annotations

import hashlib


def normalise(text: str) -> str:
    """The text whose hash is recorded: CRLF and lone CR become LF, a BOM is dropped."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    """SHA-256 (64 lowercase hex digits) of the normalised text."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
