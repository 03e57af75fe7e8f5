"""Generated documentation: `python -m pipelines.docs` rewrites docs/contract.md and
docs/data_dictionary.md.

The landing contract is data (pipelines/contract.py) and the tables are SQL files; their
documentation is rendered from them so neither can drift. Tests fail when a file is stale.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.claim_counts import KEPT_DDL
from pipelines.config import load_rules
from pipelines.contract import (
    FILE_KINDS,
    FILE_REJECTIONS,
    IGNORE_RULES,
    INCREMENTAL_MARK,
    Column,
)
from pipelines.descriptions import apply_descriptions
from pipelines.gates import NIGHT_GATES_DDL
from pipelines.ingest.quality import SUITE_RESULTS_DDL
from pipelines.paths import ROOT, SQL_DIR
from pipelines.publish import build_publication_tables
from pipelines.published_files import replace_readme_table
from pipelines.rules.models import build_models, discover_models
from pipelines.warehouse import create_raw_schema

CONTRACT_DOC = ROOT / "docs" / "contract.md"
DICTIONARY_DOC = ROOT / "docs" / "data_dictionary.md"
README = ROOT / "README.md"
DOCUMENTED_LAYERS = ("marts", "publish", "history", "raw", "intermediate", "staging")

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
- Loaded rows are written once, when their file loads, into the raw layer: Parquet files
  `<raw folder>/<kind>/bucket=NN/<file_sha256>_<i>.parquet` (NN = `hash(member_id) % 16`),
  never modified; `raw.<kind>` is a view over the files `raw.raw_files` lists. A clean
  Parquet file in exactly the contract's columns, order and types is kept as delivered
  instead (`<raw folder>/<kind>/landed/<file_sha256>/<name>`, byte for byte).
- A missing required column rejects the whole file with an error naming the file and column.
  A bad value sends the row to `raw.quarantine` with the file, row, column, value and reason.
- The same file (same bytes) landed twice loads once: the load ledger is keyed by content hash.
- Delivery order: nights in order (`delivery_seq` in `raw.load_ledger`), the files of one
  night by name. Claims accumulate: a key delivered again with other content is a
  correction (the later delivery wins; the earlier row stays in raw, listed in
  `raw.superseded_rows`), delivered again unchanged a duplicate (counted, not an error).
  Snapshot kinds (below) replace the previous delivery whole. A snapshot file landed again
  with the same bytes as one loaded earlier is already loaded and does not come back into
  force. To go back to an older snapshot, export it again (a copy under a new name has the
  same bytes, and the ledger is keyed by content).
- Claim versions: a replacement (7) or void (8) names the claim it replaces in
  `original_claim_id`; the latest version of a family counts. Replacement cycles (A replaces
  B, B replaces A) are one family rooted at the smallest claim_id.
- CSV records are counted by a byte scan (one per line unless a quoted field holds a line
  break), Parquet rows by the footer: a record with an unterminated quote or another number
  of fields than the header is quarantined alone with its line number and raw text.
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
    if col.identifier:
        parts.append("an identifier: no control characters")
    if col.pattern:
        parts.append(f"matches `{col.pattern}`")
    if col.normalize == "icd":
        parts.append("dots and spaces removed, upper-cased (`j45.909` is `J45909`)")
    if col.open_end:
        parts.append("open end: " + ", ".join(f"`{d}`" for d in col.open_end) + " read as empty")
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
        if kind.snapshot:
            out.append(
                " A full snapshot: the latest delivery replaces every earlier one, unless the "
                f"file name contains `{INCREMENTAL_MARK}` (any case): then its rows add to the "
                "snapshot in force and a repeated key replaces the earlier row."
            )
        if kind.key:
            out.append(
                f" Key: ({', '.join(kind.key)}); repeated within one file with other content, "
                "the later row is quarantined (duplicate_key)."
            )
        if kind.rules:
            out.append(
                "\n\nRow rules (checked on every row at ingest):\n\n"
                "| rule | column | action | meaning |\n|---|---|---|---|\n"
            )
            out.extend(
                f"| {r.reason} | {r.column} | "
                f"{'quarantine the row' if r.action == 'quarantine' else 'warn, keep the row'} "
                f"| {r.description} |\n"
                for r in kind.rules
            )
        out.append("\n\n| column | type | required | notes |\n|---|---|---|---|\n")
        out.extend(
            f"| {c.name} | {c.dtype} | {_requirement(c)} | {_notes(c)} |\n" for c in kind.columns
        )
    return "".join(out)


def documented_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with every table a night builds (on an empty raw layer), its
    descriptions applied: what the data dictionary and its tests read."""
    con = duckdb.connect()
    create_raw_schema(con)
    con.execute(NIGHT_GATES_DDL)
    con.execute(SUITE_RESULTS_DDL)
    for ddl in KEPT_DDL:
        con.execute(ddl)
    as_of = dt.date(2026, 1, 1)
    build_models(con, as_of, load_rules())
    build_publication_tables(con, as_of)
    apply_descriptions(con)
    return con


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_data_dictionary() -> str:
    """Every table's description and columns, read from the warehouse's own comments (the
    ones sql/descriptions/ gives every analyst-facing table), so the two cannot differ."""
    con = documented_warehouse()
    models = {m.table: m for m in discover_models()}
    out = [
        "# Data dictionary\n\n",
        "Generated by `python -m pipelines.docs` from the comments the warehouse carries (",
        "`COMMENT ON`, from `sql/descriptions/*.toml` and each SQL file's rule comment); do ",
        "not edit by hand. In the warehouse, `describe marts.fct_candidates` or ",
        "`select table_name, column_name, comment from duckdb_columns()` show the same text. ",
        "Analysts: query `marts.*` and `publish.*` (stable names and columns); `history.*` ",
        "keeps what each as-of date published; `raw.*` holds the landed rows (views over the ",
        "raw layer's Parquet files) and the ingest's ",
        "accounting. Measures and tiers are defined in [method.md](method.md); raw landing ",
        "columns follow [contract.md](contract.md). `intermediate.*` and `staging.*` are the ",
        "rules' working tables, listed last.\n",
    ]
    tables = con.execute(
        "select schema_name, table_name, comment from duckdb_tables() where not internal"
        " union all select schema_name, view_name, comment from duckdb_views()"
        " where not internal and list_contains(?, schema_name)",
        [list(DOCUMENTED_LAYERS)],
    ).fetchall()
    order = {layer: n for n, layer in enumerate(DOCUMENTED_LAYERS)}
    for schema, name, comment in sorted(
        (t for t in tables if t[0] in order), key=lambda t: (order[t[0]], t[1])
    ):
        table = f"{schema}.{name}"
        columns = con.execute(
            "select column_name, data_type, comment from duckdb_columns()"
            " where schema_name = ? and table_name = ? order by column_index",
            [schema, name],
        ).fetchall()
        out.append(f"\n## {table}\n\n{comment or ' '.join(models[table].rule_comment())}\n\n")
        if table in models:
            source = models[table].path.relative_to(SQL_DIR.parent)
            out.append(f"Built from `{source}` ({models[table].materialized}).\n\n")
        out.append("| column | type | description |\n|---|---|---|\n")
        out.extend(f"| {col} | {dtype} | {_cell(text)} |\n" for col, dtype, text in columns)
    return "".join(out)


def main() -> None:
    CONTRACT_DOC.write_text(render_contract_markdown())
    DICTIONARY_DOC.write_text(render_data_dictionary())
    README.write_text(replace_readme_table(README.read_text()))
    for doc in (CONTRACT_DOC, DICTIONARY_DOC, README):
        print(f"wrote {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
