"""The Job's code path stays light: a pod running `kubemigrate migrate` must start fast.

import-linter keeps the layers apart; this checks what actually gets imported
when the CLI runs an engine command, which layering alone cannot see (the CLI
is allowed to import the operator, lazily, for `kubemigrate operator`).
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("kopf", "kubernetes", "pydantic_settings", "prometheus_client", "aiohttp")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


def test_engine_commands_never_import_the_operator_stack() -> None:
    loaded = _modules_after(
        "import kubemigrate.cli, kubemigrate.engine.session, kubemigrate.engine.runner, "
        "kubemigrate.engine.report, kubemigrate.engine.generate"
    )
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert "kubemigrate.controller" not in loaded


def test_status_path_does_not_import_the_sql_parser_or_structlog() -> None:
    loaded = _modules_after(
        "import kubemigrate.cli, kubemigrate.engine.session, kubemigrate.engine.report"
    )
    assert "pglast" not in loaded
    assert "structlog" not in loaded
