"""``generate`` in a folder that has migration files but no ``meta/_journal.json``.

Such a folder is read in file name order, and ``status``/``migrate`` advise running
``generate`` to create the journal. The journal it creates must list those files
first, in that order, or following the advice breaks the folder: applied files
read as missing, pending ones are silently dropped, and the new file reused 0000.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import BIN, cli_env, run_cli
from tests.integration.helpers import (
    applied_names,
    journal_entry,
    output,
    user_tables,
    write_journal,
)

FIRST, SECOND, THIRD = "0000_first.sql", "0001_second.sql", "0002_third.sql"


def cli(*args: str, url: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--dir", str(directory), database_url=url)


def generate_from_stdin(directory: Path, name: str, sql: str) -> subprocess.CompletedProcess[str]:
    """``echo SQL | kubemigrate generate NAME --sql -``, as in the user's report."""
    return subprocess.run(
        [str(BIN / "kubemigrate"), "generate", name, "--sql", "-", "--dir", str(directory)],
        input=sql,
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(),
        check=False,
    )


def unjournaled_folder(tmp_path: Path) -> Path:
    drizzle = tmp_path / "drizzle"
    drizzle.mkdir()
    (drizzle / FIRST).write_text("CREATE TABLE h1(id int);\n")
    (drizzle / SECOND).write_text("CREATE TABLE h2(id int);\n")
    return drizzle


def journal(directory: Path) -> list[dict[str, Any]]:
    data = json.loads((directory / "meta" / "_journal.json").read_text())
    return list(data["entries"])


def generate_third(drizzle: Path) -> None:
    gen = generate_from_stdin(drizzle, "third", "CREATE TABLE h3(id int);\n")
    assert gen.returncode == 0, gen.stderr
    assert (drizzle / THIRD).is_file()
    assert not (drizzle / "0000_third.sql").exists()
    journal_path = drizzle / "meta" / "_journal.json"
    assert f"📝 Created {drizzle / THIRD}\n" in gen.stdout
    assert (
        f"📝 Created {journal_path} from the 2 existing migration files, "
        "in the order of their numbers\n" in gen.stdout
    )
    entries = journal(drizzle)
    assert [e["tag"] for e in entries] == ["0000_first", "0001_second", "0002_third"]
    assert [e["idx"] for e in entries] == [0, 1, 2]
    assert all(e["version"] == "7" and e["breakpoints"] is True for e in entries)
    whens = [e["when"] for e in entries]
    assert whens == sorted(set(whens)), "drizzle's migrator needs `when` to rise"


def test_generate_after_migrate_keeps_the_applied_files(tmp_path: Path, database_url: str) -> None:
    drizzle = unjournaled_folder(tmp_path)
    first = cli("migrate", url=database_url, directory=drizzle)
    assert first.returncode == 0, output(first)
    assert applied_names(database_url) == [FIRST, SECOND]
    advice = cli("status", url=database_url, directory=drizzle)
    assert "Run `kubemigrate generate` to create the journal." in output(advice)

    generate_third(drizzle)

    status = cli("status", url=database_url, directory=drizzle)
    assert status.returncode == 0, output(status)
    assert f"  ✅ Applied {FIRST} " in status.stdout
    assert f"  ✅ Applied {SECOND} " in status.stdout
    assert f"  ⏳ Pending {THIRD}\n" in status.stdout
    assert "Pending migrations: 1\n" in status.stdout
    assert "missing" not in output(status)
    assert "is gone" not in output(status)
    assert "ignored" not in output(status)
    assert "_journal.json" not in output(status)

    done = cli("migrate", url=database_url, directory=drizzle)
    assert done.returncode == 0, output(done)
    assert "✅ Applied 1 migration(s)" in done.stdout
    assert applied_names(database_url) == [FIRST, SECOND, THIRD]
    assert user_tables(database_url) == {"h1", "h2", "h3"}


def test_generate_before_anything_is_applied_keeps_every_file(
    tmp_path: Path, database_url: str
) -> None:
    drizzle = unjournaled_folder(tmp_path)
    generate_third(drizzle)

    status = cli("status", url=database_url, directory=drizzle)
    assert status.returncode == 0, output(status)
    assert "Pending migrations: 3\n" in status.stdout

    done = cli("migrate", url=database_url, directory=drizzle)
    assert done.returncode == 0, output(done)
    assert "✅ Applied 3 migration(s)" in done.stdout
    assert applied_names(database_url) == [FIRST, SECOND, THIRD]
    assert user_tables(database_url) == {"h1", "h2", "h3"}


def test_generate_lists_files_in_file_name_order_and_numbers_past_the_highest(
    tmp_path: Path,
) -> None:
    drizzle = tmp_path / "drizzle"
    drizzle.mkdir()
    for name in ("0007_late.sql", "0000_early.sql", "baseline.sql", "0003_mid.down.sql"):
        (drizzle / name).write_text("SELECT 1;\n")
    gen = run_cli("generate", "next", "--dir", str(drizzle))
    assert gen.returncode == 0, gen.stderr
    assert "from the 3 existing migration files, in the order of their numbers" in gen.stdout
    tags = [e["tag"] for e in journal(drizzle)]
    assert tags == ["0000_early", "0007_late", "baseline", "0008_next"]


def test_generate_in_an_empty_or_new_folder_starts_at_0000(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for drizzle in (empty, tmp_path / "new"):
        gen = run_cli("generate", "first", "--dir", str(drizzle))
        assert gen.returncode == 0, gen.stderr
        assert f"📝 Updated {drizzle / 'meta' / '_journal.json'}\n" in gen.stdout
        assert "existing" not in gen.stdout
        assert (drizzle / "0000_first.sql").is_file()
        assert [e["tag"] for e in journal(drizzle)] == ["0000_first"]
        assert journal(drizzle)[0]["idx"] == 0


def test_generate_never_reuses_a_file_prefix_the_journal_idx_misses(tmp_path: Path) -> None:
    """A journal whose idx values lag the file names (edited by hand, or renumbered)."""
    drizzle = tmp_path / "drizzle"
    drizzle.mkdir()
    for tag in ("0000_a", "0004_b"):
        (drizzle / f"{tag}.sql").write_text("SELECT 1;\n")
    write_journal(drizzle, ["0000_a", "0004_b"])
    gen = run_cli("generate", "c", "--dir", str(drizzle))
    assert gen.returncode == 0, gen.stderr
    assert "📝 Updated" in gen.stdout
    assert (drizzle / "0005_c.sql").is_file()
    entries = journal(drizzle)
    assert entries[:2] == [journal_entry(0, "0000_a"), journal_entry(1, "0004_b")]
    assert [e["tag"] for e in entries] == ["0000_a", "0004_b", "0005_c"]
    assert [e["idx"] for e in entries] == [0, 1, 2]  # idx counts entries, as drizzle-kit's


def test_generate_names_files_from_accented_words_and_refuses_empty_sql(tmp_path: Path) -> None:
    drizzle = tmp_path / "d"
    gen = generate_from_stdin(drizzle, "Ünïcode naïve café", "CREATE TABLE c (id int);")
    assert gen.returncode == 0, gen.stderr
    assert (drizzle / "0000_unicode_naive_cafe.sql").is_file()

    for nothing in ("", "-- only a comment\n", "--> statement-breakpoint\n;\n"):
        empty = generate_from_stdin(drizzle, "nothing", nothing)
        assert empty.returncode == 2, empty.stderr
        assert "standard input holds no SQL statement, so the migration would do nothing" in (
            empty.stderr
        )
        assert not (drizzle / "0001_nothing.sql").exists()
    assert [e["tag"] for e in journal(drizzle)] == ["0000_unicode_naive_cafe"]


def test_generate_in_a_flat_drizzle_kit_1_folder_writes_the_next_flat_file(
    tmp_path: Path, database_url: str
) -> None:
    """A drizzle-kit 1.0 folder made flat for a ConfigMap (<timestamp>_name.sql, no
    journal) got 0000_x.sql and a new meta/_journal.json: the folder turned into
    drizzle-kit 0.x's layout, and its ConfigMap then needed the journal too."""
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "20261129085527_users.sql").write_text("CREATE TABLE users (id int);\n")
    (flat / "20261130085528_orders.sql").write_text("CREATE TABLE orders (id int);\n")
    assert cli("migrate", url=database_url, directory=flat).returncode == 0
    sql = tmp_path / "audit.sql"
    sql.write_text("CREATE TABLE audit (id int);\n")
    made = run_cli("generate", "audit", "--dir", str(flat), "--sql", str(sql))
    assert made.returncode == 0, output(made)
    assert not (flat / "meta").exists()
    new = sorted(p.name for p in flat.iterdir())[-2:]
    assert new[0].endswith("_audit.down.sql")
    assert new[1].endswith("_audit.sql")
    assert new[1] > "20261130085528_orders.sql"  # after the newest, as drizzle-kit names them
    done = cli("migrate", url=database_url, directory=flat)
    assert done.returncode == 0, output(done)
    assert applied_names(database_url)[-1] == new[1]
    undone = cli("rollback", url=database_url, directory=flat)  # the down it wrote
    assert undone.returncode == 0, output(undone)
    assert "audit" not in user_tables(database_url)
    assert {"users", "orders"} <= user_tables(database_url)
