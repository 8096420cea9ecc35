"""The database URL as libpq reads it, and the mistakes people make writing it.

A URL arrives from a flag, an environment variable or a Kubernetes Secret, and is
often another tool's (a JDBC URL, golang-migrate's ``pgx5://`` and ``x-`` parameters)
or more than a URL (an env file). libpq's own complaints about such text quote pieces
of it, and any piece may be the password, so these checks name what is wrong in
words of their own before libpq sees the URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kubemigrate.domain.errors import UsageError

# Other drivers' and tools' URL schemes, named in the refusal; any other text before ://
# is not repeated (it may be a piece of whatever the Secret holds).
_OTHER_SCHEMES = frozenset(
    ("jdbc:postgresql", "jdbc", "pgx", "pgx4", "pgx5", "postgis", "cockroach", "cockroachdb",
     "crdb-postgres", "redshift", "timescale", "mysql", "mariadb", "sqlite", "sqlite3",
     "sqlserver", "mssql", "mongodb", "mongodb+srv", "redis", "http", "https", "file")
)  # fmt: skip
_PARAMETER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")


def parameters(url: str, scrub: Callable[[str], str]) -> dict[str, str]:
    """libpq's parameters of ``url``; a URL that is missing, spans lines or does not
    parse is a ``UsageError`` saying so without quoting it (``scrub`` hides the
    secrets from what libpq says)."""
    if not url.strip():
        raise UsageError(
            "No database URL given.",
            hint="pass --database-url or set DATABASE_URL to a libpq URL: "
            "postgresql://USER:PASSWORD@HOST:5432/DBNAME (replace the capitalised parts)",
        )
    if "\n" in url or "\r" in url:
        # more than the URL (an env file's lines): what follows it became part of the
        # database name, which the server's "does not exist" then quoted, secrets and all
        raise UsageError(
            "The database URL spans several lines: its Secret (or variable) holds more "
            "than the URL.",
            hint="put the URL alone in it: postgresql://USER:PASSWORD@HOST:5432/DBNAME",
        )
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        raise other_tools_url(url) or UsageError(
            f"The database URL is malformed: {unquoted(scrub(str(exc)))}",
            hint="use the form postgresql://USER:PASSWORD@HOST:5432/DBNAME "
            "(percent-encode special characters in the password)",
        ) from None


def other_tools_url(url: str) -> UsageError | None:
    """What another tool's URL holds that libpq's does not, named (libpq's own complaint
    hides it, as it may quote the password): golang-migrate's ``x-`` parameters and
    driver schemes, a JDBC URL, ``search_path`` as a parameter."""
    from urllib.parse import parse_qsl, urlsplit

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    base, plus, driver = scheme.partition("+")
    if plus and base in ("postgres", "postgresql") and re.fullmatch(r"[a-z0-9_]+", driver):
        return UsageError(
            f"The database URL starts {scheme}://, SQLAlchemy's form; kubemigrate takes libpq's.",
            hint=f"drop the +{driver}: postgresql://USER:PASSWORD@HOST:5432/DBNAME",
        )
    if scheme and scheme not in ("postgres", "postgresql"):
        # named only when it is one of these: the text before :// may be anything the
        # Secret holds (an env file's `API_KEY=...` lines), and events show messages
        said = (
            f"starts {scheme}://, another driver's form"
            if scheme in _OTHER_SCHEMES
            else "does not start postgresql:// (another driver's form, or more than the URL)"
        )
        return UsageError(
            f"The database URL {said}; kubemigrate takes libpq's.",
            hint="write it postgresql://USER:PASSWORD@HOST:5432/DBNAME (a JDBC URL drops its "
            "jdbc: prefix; golang-migrate's pgx5:// becomes postgresql://); check that the "
            "Secret's key holds the URL alone",
        )
    try:
        names = [key for key, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    except ValueError:
        return None
    unknown = [name for name in names if name not in _libpq_keywords()]
    if not unknown:
        return None
    # a name is echoed when it reads like one (a typo, another tool's option), else counted
    shown = [name for name in unknown if _PARAMETER_NAME.fullmatch(name)]
    if len(shown) < len(unknown):
        shown.append(f"{len(unknown) - len(shown)} more not shown")
    hints = ["libpq's parameters are listed at postgresql.org/docs/current/libpq-connect.html"]
    if any(name.startswith("x-") for name in unknown):
        hints.insert(
            0,
            "the x- parameters are golang-migrate's: drop them (kubemigrate keeps "
            "its own tables, in the first schema on the search_path)",
        )
    if "search_path" in unknown:
        hints.insert(0, "set the schema with options=-csearch_path%3Dapp instead")
    return UsageError(
        f"The database URL has parameters libpq does not know: {', '.join(shown)}.",
        hint="; ".join(hints),
    )


def unquoted(message: str) -> str:
    """libpq's complaint about a string it could not parse, without the pieces it
    quotes from it: in a string that does not parse, nobody can tell which piece is
    the password (a Secret holding a passphrase instead of a URL showed its first
    word this way)."""
    parts = message.split('"')
    if len(parts) % 2 == 0:  # an odd number of quotes: one may be the secret's own
        return f"{parts[0].strip()} (...)"
    kept = [
        p if n % 2 == 0 or not re.search(r"\w", p) or _option_named(parts[n - 1], p) else "..."
        for n, p in enumerate(parts)
    ]
    return " ".join('"'.join(kept).split())  # '"="' has no word in it and stays


def _option_named(before: str, quoted: str) -> bool:
    """libpq naming the option whose value it could not read (``invalid integer value
    "..." for connection option "port"``): the option's name is no piece of the URL's
    secrets, and without it nobody can tell what to fix."""
    return before.endswith("connection option ") and quoted in _libpq_keywords()


@functools.cache
def _libpq_keywords() -> frozenset[str]:
    return frozenset(o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults())
