"""Where a text kubemigrate runs stands in the file a person opens."""

from __future__ import annotations

from kubemigrate.domain.migrations import Direction, Migration, Place, Step, Written


def test_a_text_as_written_is_its_own_place() -> None:
    text = "CREATE TABLE a (id int);\nINSERT INTO a\n  SELECT id FROM b;\n"
    offset = text.index("b;")
    assert Written("x.sql").place(text, offset) == (3, 18)
    assert Written("x.sql").place_line(text, 3, 18) == (3, 18)


def test_a_section_below_a_header_counts_from_the_header() -> None:
    """A dbmate file's up section, its first line's indentation stripped: that line
    shifts by the indentation, the later ones only by the lines above the section."""
    written = Written("1_a.sql", line=4, column=3)
    text = "CREATE TABLE a (id int);\nSELECT x FROM b;\n"
    assert written.place(text, text.index("a (")) == (4, 3 + len("CREATE TABLE "))
    assert written.place(text, text.index("b;")) == (5, len("SELECT x FROM ") + 1)
    assert written.place_line(text, 2, 1) == (5, 1)


def test_a_directive_kubemigrate_put_first_is_no_line_of_the_file() -> None:
    directive = "-- kubemigrate:no-transaction\n"
    text = directive + "CREATE INDEX CONCURRENTLY i ON t (v);\nSELECT 1/0;\n"
    written = Written("sql/V2__i.sql", added=len(directive))
    assert written.place(text, text.index("SELECT")) == (2, 1)
    assert written.place(text, text.index("t (v)")) == (
        1,
        len("CREATE INDEX CONCURRENTLY i ON ") + 1,
    )
    assert written.place(text, 0) == (1, 1)  # in the directive: the file's first character
    assert written.place_line(text, 3, 8) == (2, 8)


def test_a_place_names_the_file_when_it_is_not_the_migration_s_own() -> None:
    assert Written("0001_a.sql").of("0001_a.sql") == ""
    assert Written("db/migrations/1_a.sql").of("1_a.sql") == " of db/migrations/1_a.sql"
    assert Written("", label="the stored SQL").of("1_a.sql") == " of the stored SQL"
    down = Written("0001_a.down.sql")
    step = Step("0001_a.sql", Direction.DOWN, "DROP TABLE a;\nDROP b;", None, 1, written=down)
    assert step.place(step.sql.index("b;")) == Place(2, 6, "0001_a.down.sql", " of 0001_a.down.sql")
    # a step nobody placed stands in its own file, as written
    assert Step("0001_a.sql", Direction.UP, "SELECT 1;", None, 1).place(7) == Place(
        1, 8, "0001_a.sql", ""
    )


def test_a_migration_stands_in_its_files_unless_its_reader_says_otherwise() -> None:
    plain = Migration("0001_a.sql", "SELECT 1;", "SELECT 2;")
    assert (plain.up_written, plain.down_written) == (
        Written("0001_a.sql"),
        Written("0001_a.down.sql"),
    )
    assert plain.up_file == "0001_a.sql"
    folder = Migration(
        "20240101120000_a.sql", "SELECT 1;", up_written=Written("20240101120000_a/migration.sql")
    )
    assert (folder.up_file, folder.down_written.file) == (
        "20240101120000_a/migration.sql",
        "20240101120000_a/down.sql",
    )
