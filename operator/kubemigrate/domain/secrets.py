"""Keeping connection strings and passwords out of everything we print.

Every message that leaves the process (logs, errors, JSON results, termination
messages) can pass through ``scrub``; URLs are shown only through ``redact_url``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

_URL_PASSWORD = re.compile(
    r"(?P<scheme>postgres(?:ql)?://)(?P<user>[^:@/\s]*):(?!PASSWORD@)(?P<pw>[^@\s]*)@"
)
_KEYWORD_PASSWORD = re.compile(r"(?P<key>password\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``postgresql://app:***@db:5432/shop``: enough to say which database, no secret."""
    return _KEYWORD_PASSWORD.sub(r"\g<key>***", _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", url))


# Characters that end a URL's password early where they stand unencoded: libpq ends the
# userinfo at the first @ and the authority at the first /, urllib stops at #.
_CUTS = re.compile(r"[@#/:]")


def unencoded_password(url: str) -> str | None:
    """The password as its writer meant it, when it holds an unencoded ``@``, ``#`` or
    ``/``.

    ``postgresql://app:p@ss#1@db/shop`` means the password ``p@ss#1``, but libpq ends
    the password at the first ``@`` and takes ``ss#1@db`` for the host name, which
    its error message then prints; urllib stops at ``#``, and a ``/`` ends the host
    part early. Reading up to the *last* ``@`` before the query finds what must be
    kept out of every message.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        return None
    before_query = rest.split("?", 1)[0]  # an @ in the query (?application_name=a@b) is fine
    userinfo = before_query.rpartition("@")[0]
    _, colon, password = userinfo.partition(":")
    return password if colon and any(c in password for c in "@#/") else None


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
    meant = unencoded_password(url)
    if meant:  # and the pieces other readers cut it into
        values += [meant, *_CUTS.split(meant)]
    keyword = _KEYWORD_PASSWORD.search(url)
    if keyword:
        values.append(keyword["pw"].strip("'"))
    # longest first, so the URL is blanked whole before its password is
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


# A secret this short that begins and ends like a word is blanked only where it stands as
# a word of its own (letters, digits, _ and - joined): a development password "app" turned
# "Last applied" into "Last ***lied", and CI's "password" or "postgres" turned the
# migration 0001_add_password_hash.sql into 0001_add_***_hash.sql in JSON and status. A
# password that long and word-like is a word people also name things with; a random one
# that long never occurs by chance, and is blanked wherever it is.
_SHORT = 16


def _blank(text: str, secret: str) -> str:
    if len(secret) >= _SHORT or not (_wordlike(secret[0]) and _wordlike(secret[-1])):
        return text.replace(secret, "***")
    return re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", "***", text)


def _wordlike(char: str) -> bool:
    return char.isalnum() or char == "_"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret and any URL or keyword password replaced by ***.

    ``secrets`` as ``secret_values`` gives them (longest first). Runs on every log
    field, so the regular expressions only run where a URL or a password could be.
    """
    for secret in secrets:
        if secret in text:
            text = _blank(text, secret)
    if "://" in text and "@" in text:
        text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    if "=" in text and "password" in text.lower():
        text = _KEYWORD_PASSWORD.sub(r"\g<key>***", text)
    return text


def scrub_json(text: str, secrets: list[str]) -> str:
    """A JSON document with ``scrub`` applied to its string values only (written
    compact when there was anything to scrub). Scrubbing the text whole broke it when
    a password was a JSON word or a number (``true``, ``1``), and the operator reads a
    Job's result as JSON."""
    if (
        not any(secret in text for secret in secrets)
        and "://" not in text
        and "password" not in text.lower()
    ):
        return text  # the common case: nothing that could be a secret, nothing to parse

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value, secrets)
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        return value

    return json.dumps(clean(json.loads(text)), separators=(",", ":"))
