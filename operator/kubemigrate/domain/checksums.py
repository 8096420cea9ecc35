"""Checksums of migration files.

Line endings are normalised before hashing so that a checkout on Windows
(CRLF) or a ConfigMap round-trip does not look like an edit; nothing else is
normalised, because any other change to the text may change what runs.
"""

from __future__ import annotations

import hashlib
import re
import zlib


def normalise(text: str) -> str:
    """The text whose hash is recorded: CRLF and lone CR become LF, a BOM is dropped."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    """SHA-256 (64 lowercase hex digits) of the normalised text."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


_JAVA_LINES = re.compile(r"\r\n|\r|\n")


def flyway_checksum(text: str) -> int:
    """The checksum Flyway records for a script (``flyway_schema_history.checksum``):
    CRC-32 of its lines' UTF-8 bytes without their line endings (Java's readLine, so a
    CRLF checkout matches an LF one), the BOM dropped, as a signed 32-bit integer."""
    lines = _JAVA_LINES.split(text)
    if lines and not lines[-1]:  # the last line's ending starts no line of its own
        lines.pop()
    crc = 0
    for number, line in enumerate(lines):
        crc = zlib.crc32((line.lstrip("\ufeff") if number == 0 else line).encode(), crc)
    return crc - (1 << 32) if crc >= 1 << 31 else crc
