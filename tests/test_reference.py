"""The shipped code lists match code_lists.toml, and (when the sources folder is present) the
published files they are built from."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.paths import REFERENCE_DIR, ROOT
from pipelines.reference import DERIVED, build, check, code_lists, load_reference_tables


def _sources() -> Path | None:
    """../shared/reference_sources beside the repository (or a worktree's), or
    $ECM_REFERENCE_SOURCES; CI has none of them, and then the source tests skip."""
    candidates = [os.environ.get("ECM_REFERENCE_SOURCES")]
    candidates += [str(p / "shared" / "reference_sources") for p in ROOT.parents[:2]]
    for candidate in candidates:
        if candidate and (Path(candidate) / "SOURCES.md").is_file():
            return Path(candidate)
    return None


SOURCES = _sources()
needs_sources = pytest.mark.skipif(SOURCES is None, reason="no reference_sources folder here")


def test_shipped_lists_match_their_manifest():
    assert check() == []


def test_every_list_names_source_version_licence_and_rows():
    lists = code_lists()
    assert set(DERIVED) <= set(lists)
    for cl in lists.values():
        assert cl.source and cl.version and cl.licence and cl.rows and cl.sha256, cl.name
    # The published sizes (SOURCES.md): the lists are whole, not curated subsets.
    assert lists["dhcs_avoidable_ed_diagnoses"].rows == 108
    assert lists["nyu_ed_classification"].rows == 47_132
    assert lists["pra_potentially_planned_procedures"].rows == 2_521
    assert lists["pra_acute_diagnoses"].rows == 12_333
    assert lists["ccs_icd10cm"].rows == 72_446
    assert lists["ccs_icd10pcs"].rows == 79_758
    assert all(cl.path.stat().st_size <= 1_000_000 for cl in lists.values())
    tuva = [cl for cl in lists.values() if "Apache-2.0" in cl.licence]
    assert len(tuva) == 7
    assert (REFERENCE_DIR / "LICENSE-tuva-apache-2.0.txt").is_file()
    notice = (REFERENCE_DIR / "NOTICE-tuva.txt").read_text()
    assert all(cl.path.name in notice for cl in tuva)


def test_a_changed_row_is_named(tmp_path: Path):
    ref = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, ref)
    path = ref / "dhcs_avoidable_ed_diagnoses.csv"
    path.write_text(path.read_text().replace("B359,", "B3590,", 1))
    (ref / "pra_always_planned_diagnosis_ccs.csv").unlink()
    problems = check(ref)
    assert f"{path}: sha256 differs from code_lists.toml" in problems
    assert f"{ref / 'pra_always_planned_diagnosis_ccs.csv'}: missing" in problems
    assert len(problems) == 2


def test_reference_tables_load_every_row():
    con = duckdb.connect()
    load_reference_tables(con)
    for cl in code_lists().values():
        assert con.execute(f"select count(*) from ref.{cl.name}").fetchone()[0] == cl.rows, cl.name
    # Codes stay text with their leading zeros; NYU probabilities are exact decimals.
    assert con.execute(
        "select count(*) from ref.ccs_icd10pcs where code = '00800ZZ' and ccs_category = '1'"
    ).fetchone() == (1,)
    assert (
        con.execute(
            "select max(cast(edcnnpa as decimal(11, 10)) + cast(edcnpa as decimal(11, 10))"
            " + cast(epct as decimal(11, 10)) + cast(noner as decimal(11, 10)))"
            " from ref.nyu_ed_classification"
        ).fetchone()[0]
        <= 1.0001
    )


@needs_sources
def test_shipped_lists_are_what_their_sources_build():
    assert check(sources=SOURCES) == []


@needs_sources
def test_build_from_sources_reproduces_reference_byte_for_byte(tmp_path: Path):
    ref = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, ref)
    for name in DERIVED:
        (ref / code_lists()[name].path.name).unlink()
    try:
        assert sorted(build(SOURCES, ref)) == sorted(DERIVED)
    finally:
        code_lists.cache_clear()
    for path in REFERENCE_DIR.iterdir():
        assert (ref / path.name).read_bytes() == path.read_bytes(), path.name
