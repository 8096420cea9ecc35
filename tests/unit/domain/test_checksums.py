"""Checksums: SHA-256 of the file with line endings normalised, and nothing else."""

from __future__ import annotations

import hashlib

from kubemigrate.domain.checksums import checksum, normalise
from kubemigrate.domain.migrations import Migration

SQL = "CREATE TABLE a (\n  id int\n);\n"


def test_sha256_hex_of_the_text() -> None:
    assert checksum(SQL) == hashlib.sha256(SQL.encode()).hexdigest()
    assert len(checksum(SQL)) == 64


def test_crlf_and_lone_cr_are_not_edits() -> None:
    assert checksum(SQL.replace("\n", "\r\n")) == checksum(SQL)
    assert checksum(SQL.replace("\n", "\r")) == checksum(SQL)
    assert normalise("a\r\nb\rc\n") == "a\nb\nc\n"


def test_byte_order_mark_is_dropped() -> None:
    assert checksum("\ufeff" + SQL) == checksum(SQL)


def test_any_other_change_is_an_edit() -> None:
    assert checksum(SQL + "\n") != checksum(SQL)
    assert checksum(SQL.replace("  ", "\t")) != checksum(SQL)
    assert checksum(SQL.upper()) != checksum(SQL)


def test_non_ascii_is_hashed_as_utf8() -> None:
    text = "COMMENT ON TABLE a IS 'café';"
    assert checksum(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_migration_computes_its_checksum() -> None:
    assert Migration(name="0000_a.sql", up_sql=SQL).checksum == checksum(SQL)
    assert Migration(name="0000_a.sql", up_sql=SQL, checksum="given").checksum == "given"


def test_flyway_s_checksum_is_crc32_of_its_lines_as_java_reads_them() -> None:
    """The value Flyway records for a script (``flyway_schema_history.checksum``), which
    a baseline of a database Flyway migrated compares: line endings and a BOM do not
    count, as Java's readLine drops them."""
    from kubemigrate.domain.checksums import flyway_checksum

    assert flyway_checksum("CREATE TABLE a (id int);\n") == -623083431
    assert flyway_checksum("CREATE TABLE a (id int);") == -623083431
    assert flyway_checksum("\ufeffCREATE TABLE a (id int);\r\n") == -623083431
    assert flyway_checksum("a\r\nb\rc\n") == flyway_checksum("a\nb\nc")
    # the lines' bytes alone: an empty line adds none, and "a b" is another text
    assert flyway_checksum("a\n\nb") == flyway_checksum("a\nb")
    assert flyway_checksum("a b") != flyway_checksum("a\nb")
    assert flyway_checksum("") == 0
