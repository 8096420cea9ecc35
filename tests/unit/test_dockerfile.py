"""The Dockerfile: no Docker engine here, so its contract is checked by reading it.

What Kubernetes relies on: the runtime stage runs as a numeric non-root user (so
``runAsNonRoot`` can verify it, and it matches the chart's ``runAsUser``), and the
entrypoint is the CLI, which both the operator Deployment and the Jobs call.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for line in logical:
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_it_is_multi_stage_with_a_slim_python_runtime() -> None:
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) >= 2
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for w, a in instructions() if w == "ARG"}
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert froms[-1].split()[0] == "${PYTHON_IMAGE}"
    assert any("pip wheel" in args for word, args in instructions() if word == "RUN")


def test_the_runtime_user_is_numeric_non_root_and_matches_the_chart() -> None:
    users = [args for word, args in final_stage() if word == "USER"]
    assert users, "the runtime stage must set USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), "a numeric uid, so runAsNonRoot can verify it"
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    values = yaml.safe_load((ROOT / "helm" / "kubemigrate" / "values.yaml").read_text())
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]


def test_the_entrypoint_is_the_cli() -> None:
    (entrypoint,) = [json.loads(args) for word, args in final_stage() if word == "ENTRYPOINT"]
    assert entrypoint == ["kubemigrate"]


def test_nothing_runs_as_root_after_the_user_switch() -> None:
    stage = final_stage()
    user_at = max(i for i, (word, _) in enumerate(stage) if word == "USER")
    assert not [w for w, _ in stage[user_at + 1 :] if w in {"RUN", "COPY", "ADD"}]


def test_the_runtime_is_read_only_root_friendly() -> None:
    env = " ".join(args for word, args in final_stage() if word == "ENV")
    settings = dict(part.split("=", 1) for part in shlex.split(env) if "=" in part)
    assert settings["PYTHONDONTWRITEBYTECODE"] == "1"
    assert settings["HOME"] == "/tmp"
    assert settings["TMPDIR"] == "/tmp"
