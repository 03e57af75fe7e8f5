"""Generated documentation: `python -m pipelines.docs` rewrites docs/contract.md and
docs/data_dictionary.md.

The landing contract is data (pipelines/contract.py) and the tables are SQL files; their
documentation is rendered from them so neither can drift. Tests fail when a file is stale.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.config import load_rules
from pipelines.contract import FILE_KINDS, FILE_REJECTIONS, IGNORE_RULES, Column
from pipelines.paths import ROOT, SQL_DIR
from pipelines.published_files import replace_readme_table
from pipelines.rules.models import build_models, discover_models
from pipelines.warehouse import create_raw_schema

CONTRACT_DOC = ROOT / "docs" / "contract.md"
DICTIONARY_DOC = ROOT / "docs" / "data_dictionary.md"
README = ROOT / "README.md"
DOCUMENTED_LAYERS = ("marts", "intermediate", "staging")

_HEADER = """# Landing-file contract

What a plan's data team delivers into the landing folder each night. Generated from
`pipelines/contract.py` by `python -m pipelines.docs`; do not edit by hand.

- Files are CSV (comma, header row, UTF-8, optionally gzip: `.csv.gz`) or Parquet.
- A file's kind comes from its name prefix, in any case (`Medical_Claims_part2.csv` is
  medical_claims); several files of a kind may land the same night
  (`medical_claims_2026-11-21.csv`, `medical_claims_part2.parquet`).
- Every entry of the landing folder ends the night in one recorded state
  (`raw.night_files`): loaded, loaded with quarantined rows, already loaded (same bytes as
  an earlier delivery), rejected with a reason (below), or ignored by a rule (below). A
  rejected entry blocks the night until it is corrected or removed.
- Dates are ISO `YYYY-MM-DD`. Codes are strings: leading zeros matter (`0450`); a digit code
  that lost its leading zero (`450`) is padded back.
- Parquet columns are read in the contract type or as text (parsed like CSV). Conversions
  the contract defines: integer from a whole float, date from a midnight timestamp, decimal
  from an integer or float, a digit code (revenue code, place of service, discharge status)
  from an integer. Any other type (a date as int64, a member id as an integer or a struct)
  rejects the file, naming the column and both types.
- Unknown extra columns are kept in the raw layer (`_extra`) and ignored downstream.
- A missing required column rejects the whole file with an error naming the file and column.
  A bad value sends the row to `raw.quarantine` with the file, row, column, value and reason.
- The same file (same bytes) landed twice loads once: the load ledger is keyed by content hash.
"""


def _entry_rules() -> str:
    out = [
        "\n## Entries ignored by rule\n\nA rule marked 'kind names too' also applies to names "
        "that start with a landing kind; the others only to names that do not (so "
        "`medical_claims_1.txt` is rejected, never ignored).\n\n"
        "| pattern (any case) | reason | why | kind names too |\n|---|---|---|---|\n"
    ]
    out.extend(
        f"| `{r.pattern}` | {r.reason} | {r.why} | {'yes' if r.any_name else 'no'} |\n"
        for r in IGNORE_RULES
    )
    out.append("\n## Why a file is rejected\n\n| reason | meaning |\n|---|---|\n")
    out.extend(f"| {reason} | {why} |\n" for reason, why in FILE_REJECTIONS.items())
    return "".join(out)


def _requirement(col: Column) -> str:
    if col.required:
        return "yes"
    if col.required_when:
        return f"when {col.required_when[0]} = {col.required_when[1]}"
    return "no"


def _notes(col: Column) -> str:
    parts = []
    if col.length:
        parts.append(f"{col.length} characters" + (", digits" if col.digits_only else ""))
    if col.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in col.allowed))
    if col.default_from:
        parts.append(f"defaults to {col.default_from}")
    if col.notes:
        parts.append(col.notes)
    return "; ".join(parts)


def render_contract_markdown() -> str:
    out = [_HEADER, _entry_rules()]
    for kind in FILE_KINDS.values():
        out.append(f"\n## {kind.name}*\n\n{kind.description}")
        if kind.key:
            out.append(f" Key: ({', '.join(kind.key)}); a repeated key is quarantined.")
        out.append("\n\n| column | type | required | notes |\n|---|---|---|---|\n")
        out.extend(
            f"| {c.name} | {c.dtype} | {_requirement(c)} | {_notes(c)} |\n" for c in kind.columns
        )
    return "".join(out)


def render_data_dictionary() -> str:
    """Every model's rule and columns, read from a warehouse built on an empty raw layer."""
    con = duckdb.connect()
    create_raw_schema(con)
    build_models(con, dt.date(2026, 1, 1), load_rules())
    models = {m.table: m for m in discover_models()}
    out = [
        "# Data dictionary\n\n",
        "The warehouse's tables, generated from `sql/` by `python -m pipelines.docs`; do not ",
        "edit by hand. Analysts: query `marts.*` (stable names and columns). The rule of each ",
        "table is the comment at the top of its SQL file, repeated here. Measures and tiers ",
        "are defined in [method.md](method.md). Raw tables follow [contract.md](contract.md) ",
        "plus lineage columns (`_source_file`, `_source_row`, `_file_sha256`, `_extra`); ",
        "`raw.quarantine` and `raw.load_ledger` account for every landed row.\n",
    ]
    for layer in DOCUMENTED_LAYERS:
        for table, model in models.items():
            if model.layer != layer:
                continue
            columns = con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [model.layer, model.name],
            ).fetchall()
            source = model.path.relative_to(SQL_DIR.parent)
            out.append(f"\n## {table}\n\n{' '.join(model.rule_comment())}\n\n")
            out.append(f"Built from `{source}` ({model.materialized}).\n\n")
            out.append("| column | type |\n|---|---|\n")
            out.extend(f"| {name} | {dtype} |\n" for name, dtype in columns)
    return "".join(out)


def main() -> None:
    CONTRACT_DOC.write_text(render_contract_markdown())
    DICTIONARY_DOC.write_text(render_data_dictionary())
    README.write_text(replace_readme_table(README.read_text()))
    for doc in (CONTRACT_DOC, DICTIONARY_DOC, README):
        print(f"wrote {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
