"""``kubemigrate generate`` through the CLI: the down it infers, run on a real
PostgreSQL (generate, migrate, rollback: the schema and rows are as before), and what it
refuses before writing anything."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


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
