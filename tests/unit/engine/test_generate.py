"""``kubemigrate generate`` on files alone (no database): the name, what it refuses
before writing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubemigrate.domain.errors import ExitCode, SourceError, UsageError
from kubemigrate.engine.generate import generate_migration, slug


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ünïcødé naïve café", "unicode_naive_cafe"),  # ø was dropped: "unicde"
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("Æsir Œuvre", "aesir_oeuvre"),
        ("Þór Ðoð", "thor_dod"),
        ("Đường đi", "duong_di"),
        ("Ångström ĳssel", "angstrom_ijssel"),
        ("add Заказы orders", "add_orders"),  # no ASCII spelling for Cyrillic: dropped
    ],
)
def test_a_slug_drops_accents_not_letters(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_a_name_without_a_latin_letter_is_refused() -> None:
    with pytest.raises(UsageError, match="other scripts have no ASCII spelling"):
        slug("Заказы")


def _folder(tmp_path: Path, tags: list[str]) -> Path:
    drizzle = tmp_path / "drizzle"
    (drizzle / "meta").mkdir(parents=True)
    for tag in dict.fromkeys(tags):
        (drizzle / f"{tag}.sql").write_text("CREATE TABLE t (id int);\n")
    entries = [{"idx": i, "version": "7", "when": 1, "tag": t} for i, t in enumerate(tags)]
    (drizzle / "meta" / "_journal.json").write_text(json.dumps({"entries": entries}))
    return drizzle


@pytest.mark.parametrize(
    ("tags", "missing", "said"),
    [
        (["0000_a", "0001_b", "0001_b"], None, "lists 0001_b twice"),
        (["0000_a", "0001_b"], "0001_b.sql", "but 0001_b.sql is missing"),
    ],
)
def test_generate_refuses_a_journal_status_refuses(
    tmp_path: Path, tags: list[str], missing: str | None, said: str
) -> None:
    """It appended to a journal listing a tag twice, which status then refused (exit 2)
    as before, now with one more entry to sort out."""
    drizzle = _folder(tmp_path, tags)
    if missing:
        (drizzle / missing).unlink()
    before = {p: p.read_bytes() for p in drizzle.rglob("*") if p.is_file()}
    with pytest.raises(SourceError, match=said) as refused:
        generate_migration(drizzle, "next")
    assert refused.value.exit_code == ExitCode.USAGE
    assert {p: p.read_bytes() for p in drizzle.rglob("*") if p.is_file()} == before


MIXED = (
    "ALTER TABLE items ADD COLUMN code text;\n--> statement-breakpoint\n"
    "CREATE INDEX CONCURRENTLY items_code ON items (code);\n--> statement-breakpoint\n"
    "VACUUM items;\n"
)


def test_generate_refuses_a_file_migrate_would_refuse_for_mixing_transactions(
    tmp_path: Path,
) -> None:
    """It wrote the file and exited 0; the next migrate refused it. Nothing is written:
    the fix is in the SQL, and a written file would have to come out of the journal."""
    up = tmp_path / "up.sql"
    up.write_text(MIXED)
    drizzle = tmp_path / "drizzle"
    with pytest.raises(UsageError) as refused:
        generate_migration(drizzle, "code", up)
    error = refused.value
    assert error.exit_code == ExitCode.USAGE
    assert error.message == (
        "The up SQL mixes statements that cannot run inside a transaction (line 3: CREATE "
        "INDEX CONCURRENTLY items_code ON items (code); line 5: VACUUM items) with statements "
        "that run inside one (line 1: ALTER TABLE items ADD COLUMN code text): `kubemigrate "
        "migrate` refuses such a file, so nothing was written."
    )
    assert "split it into two migrations" in (error.hint or "")
    assert "add the line `-- kubemigrate:no-transaction`" in (error.hint or "")
    assert not drizzle.exists()

    up.write_text("-- kubemigrate:no-transaction\n" + MIXED)  # the person's choice
    created = generate_migration(drizzle, "code", up)
    assert created.down.read_text() == (
        "-- kubemigrate:no-transaction\n"
        "DROP INDEX CONCURRENTLY IF EXISTS items_code;\n--> statement-breakpoint\n"
        "ALTER TABLE items DROP COLUMN IF EXISTS code;\n"
    )


@pytest.mark.parametrize("link", ["meta/_journal.json", "0001_next.down.sql"])
def test_generate_never_writes_through_a_link(tmp_path: Path, link: str) -> None:
    """A dangling link in the folder (a pull request's ``meta/_journal.json ->
    /elsewhere``) had generate create the file it pointed to, outside the folder."""
    folder = tmp_path / "d"
    (folder / "meta").mkdir(parents=True)
    (folder / "0000_first.sql").write_text("CREATE TABLE first (id int);\n")
    outside = tmp_path / "victim"
    (folder / link).symlink_to(outside)
    if link.endswith(".down.sql"):  # the new migration's name, taken: nothing written
        with pytest.raises(SourceError, match="already exists \\(a file, or a link\\)"):
            generate_migration(folder, "next", None)
        assert not (folder / "0001_next.sql").exists()
    else:  # the journal is written anew, in the link's place
        generate_migration(folder, "next", None)
        assert not (folder / link).is_symlink()
    assert not outside.exists()


def test_a_meta_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    folder, outside = tmp_path / "d", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (folder / "meta").symlink_to(outside)
    with pytest.raises(SourceError, match="meta is a link"):
        generate_migration(folder, "first", None)
    assert list(outside.iterdir()) == []
    assert list(folder.iterdir()) == [folder / "meta"]


def test_a_generate_that_fails_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The up file written, then the down failed: the pair was left unlisted, and a
    leftover temporary journal made every later generate fail the same way."""
    import kubemigrate.engine.generate as generate

    folder = tmp_path / "d"
    generate_migration(folder, "first", None)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    real = generate._write_new

    def full_disk(path: Path, text: str) -> None:
        if path.name.endswith(".down.sql"):
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(generate, "_write_new", full_disk)
    with pytest.raises(OSError, match="No space left"):
        generate_migration(folder, "second", None)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    monkeypatch.setattr(generate, "_write_new", real)
    assert generate_migration(folder, "second", None).up.name == "0001_second.sql"
