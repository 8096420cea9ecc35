"""Keeping connection strings and passwords out of everything we print.

Every message that leaves the process (logs, errors, JSON results, termination
messages) can pass through ``scrub``; URLs are shown only through ``redact_url``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_URL_PASSWORD = re.compile(
    r"(?P<scheme>postgres(?:ql)?://)(?P<user>[^:@/\s]*):(?!PASSWORD@)(?P<pw>[^@\s]*)@"
)
_KEYWORD_PASSWORD = re.compile(r"(?P<key>password\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``postgresql://app:***@db:5432/shop``: enough to say which database, no secret."""
    return _KEYWORD_PASSWORD.sub(r"\g<key>***", _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", url))


def secret_values(url: str | None) -> list[str]:
    """The strings that must never be printed for this URL: itself and its password."""
    if not url:
        return []
    values = [url]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        values += [password, unquote(password)]
    keyword = _KEYWORD_PASSWORD.search(url)
    if keyword:
        values.append(keyword["pw"].strip("'"))
    return [v for v in values if len(v) >= 3]


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (longest first) and any URL password replaced by ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_url(text)
