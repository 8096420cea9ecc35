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
    # longest first, so the URL is blanked whole before its password is
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret and any URL or keyword password replaced by ***.

    ``secrets`` as ``secret_values`` gives them (longest first). Runs on every log
    field, so the regular expressions only run where a URL or a password could be.
    """
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    if "://" in text and "@" in text:
        text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    if "=" in text and "password" in text.lower():
        text = _KEYWORD_PASSWORD.sub(r"\g<key>***", text)
    return text
