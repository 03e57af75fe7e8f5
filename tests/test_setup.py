"""Set-up as a newcomer meets it: the DuckDB CLI `make install` puts in the venv opens the
analysts' warehouse the run publishes, as the README's command does."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb

from pipelines.paths import ROOT
from pipelines.warehouse import (
    ANALYSTS_STORAGE_VERSION,
    connect,
    publish_warehouse,
    storage_version,
)
from tests.conftest import Deployment

CLI = Path(sys.executable).parent / "duckdb"


def cli(database: Path, sql: str) -> str:
    """The installed CLI, read-only and in CSV, as an analyst would run it."""
    done = subprocess.run(
        [str(CLI), "-readonly", "-csv", "-noheader", str(database), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_cli_is_installed_and_predates_the_library() -> None:
    assert CLI.exists(), f"{CLI} missing: `make install` installs duckdb-cli"
    done = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, timeout=60)
    cli_version = done.stdout.strip()
    assert cli_version.startswith("v1.5."), cli_version
    assert ANALYSTS_STORAGE_VERSION == "v1.5.0"


def test_the_cli_reads_every_table_and_view_of_the_published_warehouse(
    sample_run: Deployment,
) -> None:
    with connect(sample_run.warehouse, read_only=True) as con:
        relations = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() where not internal"
            " union all select schema_name || '.' || view_name from duckdb_views()"
            " where not internal order by 1"
        ).fetchall()
        counts = {
            name: con.execute(f"select count(*) from {name}").fetchall()[0][0]
            for (name,) in relations
        }
    assert "marts.fct_candidates" in counts and "marts.fct_member_months" in counts
    sql = " union all ".join(f"select '{name}', count(*) from {name}" for name in counts)
    read = dict(line.rsplit(",", 1) for line in cli(sample_run.warehouse, sql).splitlines())
    assert {name: int(n) for name, n in read.items()} == counts
    with connect(sample_run.warehouse, read_only=True) as con:
        assert storage_version(con) == f"{ANALYSTS_STORAGE_VERSION}+"  # copied, not rewritten
    assert counts["marts.fct_candidates"] > 0


def test_a_work_file_at_a_newer_storage_version_is_published_readable(tmp_path: Path) -> None:
    """An older release made its work warehouse at duckdb's default storage: the published
    copy is rewritten at ANALYSTS_STORAGE_VERSION, tables, views and comments included."""
    work = tmp_path / "ecm.work.duckdb"
    analysts = tmp_path / "ecm.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.t as select range as i from range(3)")
        con.execute("create view marts.v as select i * 2 as j from marts.t")
        con.execute("comment on column marts.t.i is 'a number'")
        assert storage_version(con) == "v2.0.0+"
        publish_warehouse(con, work, analysts)
    assert cli(analysts, "select sum(j) from marts.v") == "6"
    with connect(analysts, read_only=True) as con:
        assert storage_version(con) == f"{ANALYSTS_STORAGE_VERSION}+"
    assert cli(analysts, "select comment from duckdb_columns() where column_name = 'i'") == (
        "a number"
    )
    assert analysts.stat().st_mode & 0o777 == 0o640


ENSURE_VENV = ROOT / "scripts" / "ensure_venv.sh"
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


def ensure_venv(python: Path | str, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ENSURE_VENV), str(python), str(venv)], capture_output=True, text=True, timeout=300
    )


def test_a_python_too_old_is_refused_with_what_to_do(tmp_path: Path) -> None:
    old = tmp_path / "python3.10"  # answers like Python 3.10 would
    old.write_text('#!/bin/sh\ncase "$2" in *"sys.exit"*) exit 1;; *) echo 3.10;; esac\n')
    old.chmod(0o755)
    done = ensure_venv(old, tmp_path / "venv")
    assert done.returncode == 2
    assert "Python 3.10" in done.stderr and "needs 3.11 or newer" in done.stderr
    assert "PYTHON=python3.11" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_a_broken_venv_is_made_again_and_a_working_one_kept(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")  # a half-made environment
    (venv / "bin" / "python").chmod(0o755)
    done = ensure_venv(BASE_PYTHON, venv)
    assert done.returncode == 0, done.stderr
    assert "not a working Python" in done.stderr
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert version == str(tuple(sys.version_info[:2]))
    (venv / "marker").write_text("kept")
    again = ensure_venv(BASE_PYTHON, venv)
    assert again.returncode == 0 and again.stderr == ""
    assert (venv / "marker").read_text() == "kept"


def test_the_makefile_uses_it_and_the_project_accepts_newer_pythons() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "scripts/ensure_venv.sh $(PYTHON) $(VENV)" in makefile
    assert "config/dagster.yaml" in makefile and "dg dev" in makefile
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"


def _readme_analyst_queries() -> list[tuple[str, list[str]]]:
    """(sql, shown output lines) of each query in the README's Analysts section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Analysts") : readme.index("## Nightly operation")]
    blocks = re.findall(r"```sql\n(.*?)```(?:\n```text\n(.*?)```)?", section, re.DOTALL)
    return [(sql, output.splitlines()[1:]) for sql, output in blocks]


def test_the_readmes_analyst_queries_run_and_show_real_output(sample_run: Deployment) -> None:
    queries = _readme_analyst_queries()
    assert len(queries) == 6  # the description lookup and the five questions
    for sql, shown in queries:
        rows = [line.split(",") for line in cli(sample_run.warehouse, sql).splitlines()]
        assert rows, sql
        # The figures that do not depend on the earlier night are the README's, row by row.
        if "fct_member_months" in sql and "group by county" in sql:
            assert len(rows) == 13
            for line, row in zip(shown[:5], rows, strict=False):
                assert line.split()[-3:] == row[-3:], (line, row)
        if "fct_evidence" in sql or "raw.load_ledger" in sql:
            assert [line.split()[0] for line in shown] == [row[0] for row in rows]
