"""Generated documentation: `python -m pipelines.docs` rewrites docs/contract.md.

The landing contract is data (pipelines/contract.py); its documentation is rendered from it so
the two cannot drift. A test fails when the checked-in file is stale.
"""

from __future__ import annotations

from pipelines.contract import FILE_KINDS, Column
from pipelines.paths import ROOT

CONTRACT_DOC = ROOT / "docs" / "contract.md"

_HEADER = """# Landing-file contract

What a plan's data team delivers into the landing folder each night. Generated from
`pipelines/contract.py` by `python -m pipelines.docs`; do not edit by hand.

- Files are CSV (comma, header row, UTF-8, optionally gzip: `.csv.gz`) or Parquet.
- A file's kind comes from its name prefix; several files of a kind may land the same night
  (`medical_claims_2026-11-21.csv`, `medical_claims_part2.parquet`). Files without a known
  prefix are listed as ignored and not loaded.
- Dates are ISO `YYYY-MM-DD`. Codes are strings: leading zeros matter (`0450`); a digit code
  that lost its leading zero (`450`) is padded back.
- Unknown extra columns are kept in the raw layer (`_extra`) and ignored downstream.
- A missing required column rejects the whole file with an error naming the file and column.
  A bad value sends the row to `raw.quarantine` with the file, row, column, value and reason.
- The same file (same bytes) landed twice loads once: the load ledger is keyed by content hash.
"""


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
    out = [_HEADER]
    for kind in FILE_KINDS.values():
        out.append(f"\n## {kind.name}*\n\n{kind.description}")
        if kind.key:
            out.append(f" Key: ({', '.join(kind.key)}); a repeated key is quarantined.")
        out.append("\n\n| column | type | required | notes |\n|---|---|---|---|\n")
        out.extend(
            f"| {c.name} | {c.dtype} | {_requirement(c)} | {_notes(c)} |\n" for c in kind.columns
        )
    return "".join(out)


def main() -> None:
    CONTRACT_DOC.write_text(render_contract_markdown())
    print(f"wrote {CONTRACT_DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
