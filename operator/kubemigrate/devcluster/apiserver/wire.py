"""Framework-neutral HTTP request and response shapes.

The API logic speaks only these, so nothing but :mod:`.emulator` knows which HTTP
server library (kmock over aiohttp) carries the bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Request:
    method: str  # upper-case
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case keys
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in {"true", "1"}


@dataclass
class Response:
    status: int
    body: Any
    content_type: str = "application/json"
    warnings: list[str] = field(default_factory=list)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return orjson.dumps(self.body)


@dataclass
class StreamResponse:
    """A watch: newline-delimited JSON chunks produced as events happen."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    content_type: str = "application/json"
    warnings: list[str] = field(default_factory=list)
