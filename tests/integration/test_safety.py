"""Production's safety rules: rollbacks confirmed by a phrase naming the batch, no reset.

"Nothing changed" is checked on the tracking table, the history (no new rows)
and the schema itself.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, cli_env, run_cli
from tests.integration.helpers import (
    add_migration,
    connect,
    create_table,
    history,
    numbered,
    output,
    tracking,
    user_tables,
    write_drizzle,
)


def cli(directory: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--dir", str(directory), database_url=url, env=env)


def snapshot(url: str) -> tuple[Any, ...]:
    return (tracking(url), len(history(url)), user_tables(url))


@pytest.fixture
def deployed(tmp_path: Path, database_url: str) -> Path:
    """Two batches applied in production: {a}, then {b, c}."""
    drizzle = write_drizzle(
        tmp_path / "d", numbered(create_table("a"), create_table("b"), create_table("c"))
    )
    assert (
        cli(
            drizzle, database_url, "migrate", "--env", "production", "--target", "0000_a"
        ).returncode
        == 0
    )
    assert cli(drizzle, database_url, "migrate", "--env", "production").returncode == 0
    return drizzle


def test_production_rollback_without_phrase_is_refused_and_prints_it(
    deployed: Path, database_url: str
) -> None:
    before = snapshot(database_url)
    result = cli(deployed, database_url, "rollback", "--env", "production")
    assert result.returncode == 5, output(result)
    assert "--confirm rollback-batch-2" in result.stderr
    assert "0002_c.sql, 0001_b.sql" in result.stderr
    assert "Traceback" not in output(result)
    assert snapshot(database_url) == before

    as_json = cli(deployed, database_url, "rollback", "--json", "--env", "production")
    assert as_json.returncode == 5
    data = json.loads(as_json.stdout)
    assert data["confirmation"] == "rollback-batch-2"
    assert data["error"]["reason"] == "ConfirmationRequired"
    assert snapshot(database_url) == before

    plan = cli(deployed, database_url, "plan", "--for", "rollback", "--env", "production")
    assert plan.returncode == 0, output(plan)
    assert "Confirmation phrase (production): rollback-batch-2" in plan.stdout
    assert snapshot(database_url) == before
    # whether the environment took effect shows in the plan (NODE_ENV of another value)
    plan = cli(deployed, database_url, "plan", "--for", "rollback", NODE_ENV="qa")
    assert (
        "Confirmation phrase (asked for in production; this is development): rollback-batch-2"
        in plan.stdout
    )


@pytest.mark.parametrize(("typed", "code"), [(b"\x04", 5), (b"rollback-batch-2\n", 0)])
def test_the_production_prompt_on_a_terminal(
    deployed: Path, database_url: str, typed: bytes, code: int
) -> None:
    """Ctrl-D at the prompt is no answer (refused, nothing undone), the phrase is yes."""
    before = snapshot(database_url)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(BIN / "kubemigrate"), "rollback", "--env", "production", "--dir", str(deployed)],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(DATABASE_URL=database_url),
        )
        os.close(follower)
        assert proc.stderr is not None
        prompt = b""
        while b"to confirm: " not in prompt:
            chunk = os.read(proc.stderr.fileno(), 1024)
            assert chunk, f"no prompt: {prompt!r}"
            prompt += chunk
        os.write(leader, typed)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    text = (prompt + err).decode()
    assert proc.returncode == code, text + out.decode()
    assert "Traceback" not in text
    assert "bug" not in text
    if code == 5:
        assert snapshot(database_url) == before
    else:
        assert [row["migration_name"] for row in tracking(database_url)] == ["0000_a.sql"]


def test_production_rollback_with_a_stale_phrase_is_refused(
    deployed: Path, database_url: str
) -> None:
    # The operator copies the phrase for batch 2, then someone deploys batch 3.
    add_migration(deployed, "0003_d", *create_table("d")[1:])
    assert cli(deployed, database_url, "migrate", "--env", "production").returncode == 0
    before = snapshot(database_url)
    result = cli(
        deployed, database_url, "rollback", "--env", "production", "--confirm", "rollback-batch-2"
    )
    assert result.returncode == 5, output(result)
    assert "rollback-batch-3" in result.stderr
    assert "0003_d.sql" in result.stderr
    assert snapshot(database_url) == before


def test_production_rollback_with_the_right_phrase_works(deployed: Path, database_url: str) -> None:
    result = cli(
        deployed, database_url, "rollback", "--env", "production", "--confirm", "rollback-batch-2"
    )
    assert result.returncode == 0, output(result)
    assert [r["migration_name"] for r in tracking(database_url)] == ["0000_a.sql"]
    assert user_tables(database_url) == {"a"}
    # The same phrase cannot confirm the next batch down.
    again = cli(
        deployed, database_url, "rollback", "--env", "production", "--confirm", "rollback-batch-2"
    )
    assert again.returncode == 5
    assert "rollback-batch-1" in again.stderr
    assert user_tables(database_url) == {"a"}


def test_multi_batch_production_rollback_phrase_names_every_batch(
    deployed: Path, database_url: str
) -> None:
    before = snapshot(database_url)
    result = cli(deployed, database_url, "rollback", "--steps", "2", "--env", "production")
    assert result.returncode == 5
    assert "rollback-batches-1-to-2" in result.stderr
    assert snapshot(database_url) == before
    done = cli(
        deployed,
        database_url,
        "rollback",
        "--steps",
        "2",
        "--env",
        "production",
        "--confirm",
        "rollback-batches-1-to-2",
    )
    assert done.returncode == 0, output(done)
    assert user_tables(database_url) == set()


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--env", "production"], {}, "refused in production"),
        (["--env", "production", "--force"], {}, "refused in production"),
        ([], {"KUBEMIGRATE_ENV": "production"}, "refused in production"),
        (["--env", "staging"], {}, "needs --force"),
    ],
)
def test_reset_refused(
    deployed: Path, database_url: str, args: list[str], env: dict[str, str], words: str
) -> None:
    before = snapshot(database_url)
    result = cli(deployed, database_url, "reset", *args, **env)
    assert result.returncode == 5, output(result)
    assert words in result.stderr
    assert "Traceback" not in output(result)
    assert snapshot(database_url) == before


def test_a_production_reset_is_refused_for_what_it_is(deployed: Path, database_url: str) -> None:
    """Even where the plan itself would fail (a migration without rollback SQL), the
    answer is the safety rule, exit 5, not some other complaint."""
    (deployed / "0002_c.down.sql").write_text("-- nothing here yet\n")
    with connect(database_url) as conn:
        conn.execute("UPDATE __migration_tracking SET rollback_sql = NULL")
    before = snapshot(database_url)
    result = cli(deployed, database_url, "reset", "--env", "production")
    assert result.returncode == 5, output(result)
    assert "refused in production" in result.stderr
    assert "No rollback SQL" not in result.stderr
    assert snapshot(database_url) == before


def test_a_plan_for_a_production_reset_says_it_would_be_refused(
    deployed: Path, database_url: str
) -> None:
    """The operator's plan Job and a person previewing both learn the rule at once,
    not a confirmation phrase for something that can never run."""
    result = cli(deployed, database_url, "plan", "--for", "reset", "--env", "production", "--json")
    assert result.returncode == 5, output(result)
    data = json.loads(result.stdout)
    assert data["error"]["reason"] == "RefusedBySafetyRules"
    assert "confirmation" not in data
    assert (data["action"], data["dryRun"]) == ("reset", True)  # as a plan that succeeds says
    # where the database is, as `reset --force`'s refusal says it
    assert data["counts"] == {"total": 3, "applied": 3, "pending": 0}

    staging = cli(deployed, database_url, "plan", "--for", "reset", "--env", "staging")
    assert staging.returncode == 0, output(staging)
    assert "Dry run: 3 migration(s) would be rolled back, newest first (batches 2, 1):" in (
        staging.stdout
    )
    # not a rollback's phrase: a reset takes none
    assert "needs --force in staging and is refused in production" in staging.stdout
    assert "Confirmation phrase" not in staging.stdout


def test_a_plan_that_fails_before_reading_the_database_names_the_action_too(
    tmp_path: Path, database_url: str
) -> None:
    """Failing on a missing folder or an unreachable server, it said "action": "plan",
    where its success and a failure after the read say the action, previewed: a script
    reading `action` met three spellings of one command."""
    missing = cli(tmp_path / "none", database_url, "plan", "--for", "rollback", "--json")
    unreachable = run_cli(
        "plan", "--for", "rollback", "--json", "--dir", str(tmp_path),
        database_url="postgresql://nobody@127.0.0.1:1/none",
    )  # fmt: skip
    for failed, code in ((missing, 2), (unreachable, 75)):
        assert failed.returncode == code, output(failed)
        data = json.loads(failed.stdout)
        assert (data["action"], data["dryRun"], data["ok"]) == ("rollback", True, False)


def test_a_mistyped_phrase_is_called_that(deployed: Path, database_url: str) -> None:
    before = snapshot(database_url)
    result = cli(
        deployed, database_url, "rollback", "--env", "production", "--confirm", "rolback-batch-2"
    )
    assert result.returncode == 5, output(result)
    assert "it is not a confirmation phrase (mistyped?)" in result.stderr
    assert "--confirm rollback-batch-2" in result.stderr
    assert snapshot(database_url) == before


def test_a_production_rollback_says_what_data_its_downs_destroy(
    tmp_path: Path, database_url: str
) -> None:
    """The phrase consents to a batch; what undoing it costs (every value written to a
    column since) is said where the phrase is asked for, and in the plan and result."""
    token = (
        "token",
        "ALTER TABLE users ADD COLUMN token text;",
        "ALTER TABLE users DROP COLUMN token;",
    )
    drizzle = write_drizzle(
        tmp_path / "d",
        numbered(("users", "CREATE TABLE users (id int);", "DROP TABLE users;"), token),
    )
    assert cli(drizzle, database_url, "migrate", "--target", "0000").returncode == 0
    assert cli(drizzle, database_url, "migrate").returncode == 0
    said = "0001_token.sql line 1 of 0001_token.down.sql destroys data no rollback restores: "
    said += "DROP COLUMN users.token"

    refused = cli(drizzle, database_url, "rollback", "--env", "production")
    assert refused.returncode == 5, output(refused)
    assert f"It would undo: 0001_token.sql; {said}." in refused.stderr

    plan = cli(drizzle, database_url, "plan", "--for", "rollback", "--env", "production")
    assert f"warning: {said}" in plan.stdout

    confirmed = cli(
        drizzle, database_url, "rollback", "--env", "production", "--confirm", "rollback-batch-2",
        "--json",
    )  # fmt: skip
    assert confirmed.returncode == 0, output(confirmed)
    assert json.loads(confirmed.stdout)["warnings"] == [said]

    # elsewhere no phrase is asked for, and nothing is said (as for a migrate)
    assert cli(drizzle, database_url, "migrate").returncode == 0
    development = cli(drizzle, database_url, "rollback", "--json")
    assert "warnings" not in json.loads(development.stdout)
