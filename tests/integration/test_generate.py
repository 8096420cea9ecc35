"""``kubemigrate generate`` through the CLI: the down it infers, run on a real
PostgreSQL (generate, migrate, rollback: the schema and rows are as before), and what it
refuses before writing anything."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_generate_refuses_a_journal_status_refuses(tmp_path: Path, database_url: str) -> None:
    """generate appended to a journal listing a tag twice, which status refuses."""
    drizzle = tmp_path / "drizzle"
    for name in ("a", "b"):
        made = run_cli("generate", name, "--dir", str(drizzle))
        assert made.returncode == 0, made.stderr
    journal = drizzle / "meta" / "_journal.json"
    data = json.loads(journal.read_text())
    data["entries"].append(data["entries"][-1])
    journal.write_text(json.dumps(data))
    status = run_cli("status", "--dir", str(drizzle), database_url=database_url)
    refused = run_cli("generate", "c", "--dir", str(drizzle))
    assert (status.returncode, refused.returncode) == (2, 2)
    said = f"error: {journal} lists 0001_b twice."
    assert said in status.stderr
    assert said in refused.stderr
    assert json.loads(journal.read_text()) == data
    assert sorted(p.name for p in drizzle.glob("*.sql")) == [
        "0000_a.down.sql", "0000_a.sql", "0001_b.down.sql", "0001_b.sql",
    ]  # fmt: skip


def test_generate_takes_log_format_as_every_command_does(tmp_path: Path) -> None:
    drizzle = tmp_path / "drizzle"
    made = run_cli("generate", "a", "--dir", str(drizzle), "--log-format", "json")
    assert made.returncode == 0, made.stderr
    refused = run_cli("generate", "Заказы", "--dir", str(drizzle), "--log-format", "json")
    assert refused.returncode == 2
    line = json.loads(refused.stderr)
    assert (line["level"], line["msg"].startswith("'Заказы' cannot name a migration")) == (
        "error",
        True,
    )
