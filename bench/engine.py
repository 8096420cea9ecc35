"""Engine benchmark: ``kubemigrate migrate`` against the psql floor and dbmate.

Run with ``python -m bench.engine [--sizes 300,1000] [--repeats 5]``. It prints a
markdown table and writes it to ``bench/results/engine.md``. It asserts nothing about
time: figures are for people (and the README), never a test that flakes on a busy CI.

Method, and why:

* One durable PostgreSQL server (fsync on) for everything, so per-commit costs are
  real: an engine that commits once per migration pays what it would pay in
  production, and the single-transaction ``psql -1`` floor shows what that costs.
* Every measurement starts from a freshly created empty database, created (and a
  CHECKPOINT taken) outside the timed region, so no tool pays for another's leftovers.
* Whole-process wall time: what a CI job or a Kubernetes Job waits for, interpreter
  start-up and imports included. Beside the fast paths (``status``, no-op
  ``migrate``) the same rounds time the interpreter importing psycopg and typer and
  nothing else: the part of those figures that no code of ours can remove.
* One warm-up run per tool (page cache, binaries), then ``--repeats`` rounds in a
  rotating order so that no tool always runs first or last; ratios are computed
  round by round (kubemigrate vs the others in the same round) and then the median
  taken, which cancels slow drifts of the machine better than a ratio of medians.
* Every run is checked afterwards (untimed) for the schema it left: a fast wrong
  answer would otherwise look like a win.
* Peak RSS comes from ``os.wait4``'s rusage of each child process.
* kubemigrate as users get it: the working tree installed as a wheel (bytecode
  compiled) on an optimised CPython, as the image does (``bench/shipped.py``);
  ``--dev`` times the development venv's CLI instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench import history, shipped
from bench.machine import machine_info as shared_machine_info
from kubemigrate.devcluster import postgres

BENCH_DIR = Path(__file__).resolve().parent
NPM_PREFIX = BENCH_DIR / ".cache" / "npm"
DBMATE_PACKAGE = "@dbmate/linux-x64"
DBMATE_VERSION = "2.36.0"
RESULTS = BENCH_DIR / "results" / "engine.md"

TARGET_FLOOR_RATIO = 1.25
TARGET_DBMATE_RATIO = 1.0
TARGET_FAST_PATH_S = 0.3
TARGET_RSS_MB = 100.0

# Not a kubemigrate command: the interpreter importing the two libraries every command
# needs (the database driver and the CLI framework) and doing nothing else, so the
# fast-path figures can be read against what no code of ours can go below.
FLOOR = "floor: `python -c 'import psycopg, typer'`"
EACH = "psql, a transaction each"

# A fingerprint of what a history left in ``public``: every relation and its kind,
# every function, every enum, minus each tool's own bookkeeping tables.
FINGERPRINT_SQL = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), ''))
FROM (
  SELECT relkind::text || ':' || relname AS item FROM pg_class
  WHERE relnamespace = 'public'::regnamespace
    AND relname NOT LIKE '\\_\\_migration%' AND relname NOT LIKE 'schema\\_migrations%'
  UNION ALL
  SELECT 'f:' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'e:' || typname FROM pg_type
  WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'
) AS objects
"""


@dataclass(frozen=True)
class Run:
    """One timed child process."""

    seconds: float
    max_rss_kb: int


@dataclass
class Samples:
    """The timed runs of one tool for one scenario, in round order."""

    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def spread(self) -> str:
        times = [r.seconds for r in self.runs]
        return f"{min(times):.2f}–{max(times):.2f}"

    @property
    def peak_rss_mb(self) -> float:
        return max(r.max_rss_kb for r in self.runs) / 1024


class BenchError(RuntimeError):
    """A tool failed or left a wrong schema: the figures would be meaningless."""


GNU_TIME = Path("/usr/bin/time")


def timed(cmd: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to completion; wall time from spawn to reap, and the child's peak RSS.

    Output goes to files rather than pipes, so a chatty tool can neither block on a
    full pipe nor be timed while we drain it.

    Peak RSS: a child forked from this (large) Python process inherits its memory
    until ``exec``, and Linux folds that pre-exec high-water mark into the child's
    ``ru_maxrss``; so a small tool would show ~this process's size. GNU time, being
    tiny, forks the tool from itself and reports the tool's own peak (``%M``). Without
    it, ``os.wait4``'s figure is used, an upper bound.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out, err, rss_file = Path(tmp, "out"), Path(tmp, "err"), Path(tmp, "rss")
        argv = list(cmd)
        if GNU_TIME.exists():
            argv = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *argv]
        with out.open("wb") as out_f, err.open("wb") as err_f:
            start = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out_f, stderr=err_f)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            tail = out.read_bytes()[-2000:] + err.read_bytes()[-4000:]
            name = f"{Path(cmd[0]).name} {cmd[1]}"
            raise BenchError(f"{name} exited {proc.returncode}:\n{tail.decode(errors='replace')}")
        max_rss_kb = int(usage.ru_maxrss)
        if rss_file.exists():
            max_rss_kb = int(rss_file.read_text().split()[-1])
    return Run(seconds=seconds, max_rss_kb=max_rss_kb)


def ensure_dbmate() -> Path:
    """The dbmate binary from npm, installed once into bench/.cache (git-ignored)."""
    binary = NPM_PREFIX / "node_modules" / DBMATE_PACKAGE / "bin" / "dbmate"
    if not binary.exists():
        if shutil.which("npm") is None:
            raise BenchError("npm is needed to fetch dbmate (the npm package @dbmate/linux-x64)")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX),
             f"{DBMATE_PACKAGE}@{DBMATE_VERSION}"],
            check=True,
            capture_output=True,
        )  # fmt: skip
    return binary


def find_kubemigrate(explicit: Path | None) -> Path | None:
    """The console script beside this interpreter, if it exists and answers ``--help``."""
    candidate = explicit or Path(sys.executable).parent / "kubemigrate"
    if not candidate.exists():
        return None
    probe = subprocess.run([str(candidate), "--help"], capture_output=True, check=False)
    return candidate if probe.returncode == 0 else None


def cli_env() -> dict[str, str]:
    """Development environment for the CLI whatever the caller's shell says."""
    env = {k: v for k, v in os.environ.items() if k not in {"NODE_ENV", "DATABASE_URL"}}
    env["KUBEMIGRATE_ENV"] = "development"
    return env


class Bench:
    """The server, the generated layouts and the tools; one method per table section."""

    def __init__(
        self,
        server: postgres.PostgresServer,
        work: Path,
        kubemigrate: Path | None,
        dbmate: Path,
        repeats: int,
    ) -> None:
        self.server = server
        self.work = work
        self.kubemigrate = kubemigrate
        self.dbmate = dbmate
        self.repeats = repeats
        self.psql = postgres.find_bindir() / "psql"
        self._dbs = 0

    # -- databases ---------------------------------------------------------------

    def fresh_database(self) -> str:
        """A new empty database, and a CHECKPOINT so no earlier run's dirty pages count."""
        self._dbs += 1
        name = f"bench_{self._dbs}"
        self.server.create_database(name)
        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        return name

    def fingerprint(self, name: str) -> str:
        with psycopg.connect(self.server.url(name)) as conn:
            row = conn.execute(FINGERPRINT_SQL).fetchone()
        assert row is not None
        return str(row[0])

    def tracked(self, name: str) -> int:
        with psycopg.connect(self.server.url(name)) as conn:
            row = conn.execute("SELECT count(*) FROM __migration_tracking").fetchone()
        assert row is not None
        return int(row[0])

    # -- layouts -----------------------------------------------------------------

    def layouts(self, migrations: Sequence[history.Migration]) -> Path:
        """drizzle/, drizzle-prev/ (all but the last), dbmate/db/migrations and all.sql."""
        root = self.work / f"n{len(migrations)}"
        if not root.exists():
            history.write_drizzle(migrations, root / "drizzle")
            history.write_drizzle(migrations[:-1], root / "drizzle-prev")
            history.write_dbmate(migrations, root / "dbmate" / "db" / "migrations")
            history.write_concatenated(migrations, root / "all.sql")
            history.write_concatenated(migrations, root / "each.sql", each_alone=True)
        return root

    # -- tools -------------------------------------------------------------------

    def km(self, *args: str, url: str, folder: Path) -> Run:
        assert self.kubemigrate is not None
        cmd = [str(self.kubemigrate), *args, "--database-url", url, "--dir", str(folder)]
        return timed(cmd, cwd=self.work, env=cli_env())

    def tools(self, root: Path) -> dict[str, Callable[[str], Run]]:
        """Each tool as a function of the database URL, applying the whole history."""
        found: dict[str, Callable[[str], Run]] = {}
        if self.kubemigrate is not None:
            found["kubemigrate"] = lambda url: self.km("migrate", url=url, folder=root / "drizzle")
        found["psql -1"] = lambda url: timed(
            [str(self.psql), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1",
             "-f", str(root / "all.sql"), "-d", url],
            cwd=root,
        )  # fmt: skip
        found[EACH] = lambda url: timed(
            [str(self.psql), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-f", str(root / "each.sql"), "-d", url],
            cwd=root,
        )  # fmt: skip
        found["dbmate"] = lambda url: timed(
            [str(self.dbmate), "--url", f"{url}?sslmode=disable",
             "--migrations-dir", str(root / "dbmate" / "db" / "migrations"),
             "--no-dump-schema", "up"],
            cwd=root / "dbmate",
        )  # fmt: skip
        return found

    # -- sections ----------------------------------------------------------------

    def migrate_from_empty(self, migrations: Sequence[history.Migration]) -> dict[str, Samples]:
        """Warm-up, then ``repeats`` rounds of every tool in rotating order."""
        root = self.layouts(migrations)
        tools = self.tools(root)
        names = list(tools)
        samples = {name: Samples() for name in names}
        expected: str | None = None
        for round_no in range(-1, self.repeats):  # round -1 is the warm-up
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                db = self.fresh_database()
                run = tools[name](self.server.url(db))
                got = self.fingerprint(db)
                expected = expected or got
                if got != expected:
                    raise BenchError(f"{name} left a different schema for N={len(migrations)}")
                if round_no >= 0:
                    samples[name].runs.append(run)
                self.server.drop_database(db)
            print(
                f"  N={len(migrations)} round {round_no + 1}/{self.repeats} done", file=sys.stderr
            )
        return samples

    def fast_paths(self, migrations: Sequence[history.Migration]) -> dict[str, Samples]:
        """status, no-op migrate and rollback of the last migration, with N applied.

        The database is brought to N-1 applied, then the last one is applied as its own
        batch, so ``rollback`` (which undoes the last batch) undoes exactly one migration.
        Each rollback is followed by an untimed re-apply for the next round.
        """
        root = self.layouts(migrations)
        full, prev = root / "drizzle", root / "drizzle-prev"
        db = self.fresh_database()
        url = self.server.url(db)
        self.km("migrate", url=url, folder=prev)
        before_last = self.fingerprint(db)
        self.km("migrate", url=url, folder=full)
        if self.tracked(db) != len(migrations):
            raise BenchError("kubemigrate did not record every migration")
        result = {
            "status": Samples(),
            "no-op migrate": Samples(),
            "rollback last": Samples(),
            FLOOR: Samples(),
        }
        assert self.kubemigrate is not None
        python = str(self.kubemigrate.parent / "python")
        for round_no in range(-1, self.repeats):
            floor = timed([python, "-c", "import psycopg, typer"], cwd=self.work)
            status = self.km("status", url=url, folder=full)
            noop = self.km("migrate", url=url, folder=full)
            rollback = self.km("rollback", url=url, folder=full)
            if self.tracked(db) != len(migrations) - 1 or self.fingerprint(db) != before_last:
                raise BenchError("rollback did not undo exactly the last migration")
            self.km("migrate", url=url, folder=full)
            if round_no >= 0:
                result["status"].runs.append(status)
                result["no-op migrate"].runs.append(noop)
                result["rollback last"].runs.append(rollback)
                result[FLOOR].runs.append(floor)
        self.server.drop_database(db)
        return result


def machine_info(
    server: postgres.PostgresServer, dbmate: Path, kubemigrate: Path | None
) -> dict[str, str]:
    """What the figures were measured on, for the README next to them."""
    with psycopg.connect(server.url()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    pg_version = str(row[0]) if row else "unknown"
    dbmate_version = subprocess.run(
        [str(dbmate), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    km_version = "not available"
    machine = shared_machine_info()
    if kubemigrate is not None:
        from importlib.metadata import version

        km_version = version("kubemigrate")
        python = kubemigrate.parent / "python"
        where = (
            "the development venv" if python.parent == Path(sys.executable).parent else "a wheel"
        )
        km_version += f" (installed from {where}; Python {shipped.describe(python)})"
        machine["Python"] += " (the benchmark itself)"
    return {
        **machine,
        "PostgreSQL": f"{pg_version} (fsync on, local TCP)",
        "kubemigrate": km_version,
        "dbmate": f"{dbmate_version} (npm {DBMATE_PACKAGE})",
    }


def _ratio_median(a: Samples, b: Samples) -> float:
    """Median of per-round ratios: each pair ran in the same round, under the same load."""
    return statistics.median(x.seconds / y.seconds for x, y in zip(a.runs, b.runs, strict=True))


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, with what was measured (None: not measured)."""

    name: str
    goal: str
    measured: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else ("PASS" if self.ok else "MISS")


def report(
    migrate: dict[int, dict[str, Samples]],
    fast: dict[str, Samples] | None,
    fast_n: int,
    info: dict[str, str],
    repeats: int,
) -> str:
    """The markdown report: figures, targets with PASS/MISS, and the machine."""
    tools = ["kubemigrate", "psql -1", "dbmate"]
    lines = [
        "# Engine benchmark",
        "",
        f"Whole-process wall time in seconds, median of {repeats} after one warm-up "
        "(min–max in brackets); each run on a fresh empty database of one durable "
        "server (fsync on); tools in rotating order; ratios are medians of per-round ratios.",
        "",
        "## Migrate from an empty database",
        "",
        "| N | kubemigrate | psql -1 (floor) | dbmate | kubemigrate / psql | "
        "kubemigrate / dbmate | peak RSS MB (km / psql / dbmate) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    targets: list[Target] = []
    for n, samples in sorted(migrate.items()):
        times = [
            f"{samples[t].median:.3f} ({samples[t].spread})" if t in samples else "n/a"
            for t in tools
        ]
        rss = " / ".join(f"{samples[t].peak_rss_mb:.0f}" if t in samples else "n/a" for t in tools)
        km = samples.get("kubemigrate")
        floor = _ratio_median(km, samples["psql -1"]) if km else None
        peer = _ratio_median(km, samples["dbmate"]) if km else None
        ratios = ["n/a" if r is None else f"{r:.2f}x" for r in (floor, peer)]
        lines.append(f"| {n} | " + " | ".join([*times, *ratios, rss]) + " |")
        if n == max(migrate):
            targets += [
                Target(
                    f"migrate N={n}: kubemigrate / psql floor",
                    f"≤ {TARGET_FLOOR_RATIO:.2f}x",
                    ratios[0],
                    None if floor is None else floor <= TARGET_FLOOR_RATIO,
                ),
                Target(
                    f"migrate N={n}: kubemigrate / dbmate",
                    f"≤ {TARGET_DBMATE_RATIO:.2f}x",
                    ratios[1],
                    None if peer is None else peer <= TARGET_DBMATE_RATIO,
                ),
            ]
    lines += [
        "",
        "Beside it, the floor for one transaction per migration (what the issue asks of "
        "kubemigrate, and what dbmate does): psql running the same SQL with each migration "
        "in its own BEGIN ... COMMIT, no bookkeeping, and every commit but the last not "
        "waiting for the WAL flush, as kubemigrate's.",
        "",
        "| N | psql, a transaction each | kubemigrate / it | it / psql -1 |",
        "|---:|---:|---:|---:|",
    ]
    for n, samples in sorted(migrate.items()):
        each, km = samples.get(EACH), samples.get("kubemigrate")
        if each is None:
            continue
        versus = f"{_ratio_median(km, each):.2f}x" if km else "n/a"
        lines.append(
            f"| {n} | {each.median:.3f} ({each.spread}) | {versus} | "
            f"{_ratio_median(each, samples['psql -1']):.2f}x |"
        )
    rss_runs = [r for s in migrate.values() if "kubemigrate" in s for r in s["kubemigrate"].runs]
    lines += ["", f"## kubemigrate with {fast_n} applied", ""]
    if fast:
        lines += ["| command | median s | min–max | peak RSS MB |", "|---|---:|---:|---:|"]
        for name, s in fast.items():
            lines.append(f"| {name} | {s.median:.3f} | {s.spread} | {s.peak_rss_mb:.1f} |")
            if name != FLOOR:
                rss_runs += s.runs
    else:
        lines.append("The kubemigrate CLI was not available: not measured.")
    for name in ("status", "no-op migrate"):
        med = fast[name].median if fast else None
        targets.append(
            Target(
                f"{name}, {fast_n} applied (whole process)",
                f"< {TARGET_FAST_PATH_S} s",
                "n/a" if med is None else f"{med:.3f} s",
                None if med is None else med < TARGET_FAST_PATH_S,
            )
        )
    peak = max((r.max_rss_kb for r in rss_runs), default=0) / 1024
    targets.append(
        Target(
            "peak RSS of kubemigrate (any command above)",
            f"< {TARGET_RSS_MB:.0f} MB",
            f"{peak:.1f} MB" if rss_runs else "n/a",
            (peak < TARGET_RSS_MB) if rss_runs else None,
        )
    )
    lines += ["", "## Targets (issue 2)", "", "| target | goal | measured | result |"]
    lines.append("|---|---:|---:|:---:|")
    lines += [f"| {t.name} | {t.goal} | {t.measured} | {t.verdict} |" for t in targets]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--sizes", default="300,1000", help="history sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--kubemigrate",
        type=Path,
        help="the CLI to time (default: the working tree installed as a wheel, bench/shipped.py)",
    )
    parser.add_argument(
        "--dev", action="store_true", help="time the development venv's CLI (beside this python)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    fast_n = 1000 if 1000 in sizes else max(sizes)

    dbmate = ensure_dbmate()
    explicit = args.kubemigrate
    if explicit is None and not args.dev:
        explicit = shipped.install(shipped.interpreter())
    kubemigrate = find_kubemigrate(explicit)
    if kubemigrate is None:
        print("kubemigrate CLI not available: measuring psql and dbmate only", file=sys.stderr)
    full = history.generate(max(sizes), args.seed)
    server = postgres.start(durable=True)
    work = Path(tempfile.mkdtemp(prefix="kubemigrate-bench-"))
    try:
        bench = Bench(server, work, kubemigrate, dbmate, args.repeats)
        migrate = {n: bench.migrate_from_empty(full[:n]) for n in sizes}
        fast = bench.fast_paths(full[:fast_n]) if kubemigrate else None
        info = machine_info(server, dbmate, kubemigrate)
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)
    text = report(migrate, fast, fast_n, info, args.repeats)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
