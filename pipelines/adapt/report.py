"""What an adapter run did, per source file: rows in and out, and everything it could not map.

Nothing is dropped without a trace: a row that cannot be mapped is a reject (source file, row,
column, value, reason) and a value that cannot be carried is counted by column and value.
Member identifiers never appear here: the values reported are codes (claim types, code
systems, genders), never ids.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Reject:
    """One row not written: its file and 1-based data row, and why."""

    source_file: str
    source_row: int
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True)
class ValueCount:
    """Rows of one file that share a column, a value and what happened to it."""

    column: str
    value: str | None
    rows: int
    reason: str


@dataclass
class FileOutcome:
    source_file: str
    table: str
    output_file: str | None = None
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    # The file could not be mapped at all (unreadable, a required column missing).
    error: str | None = None
    rejected: list[ValueCount] = field(default_factory=list)
    # Values left empty because our contract cannot carry them: problems, like rejects.
    not_mapped: list[ValueCount] = field(default_factory=list)
    # Documented readings applied (a fallback column used, an empty code type read as
    # ICD-10): not problems, but counted so a reader sees how much relied on them.
    notes: list[ValueCount] = field(default_factory=list)
    # Documented Tuva columns the contract has no place for -> non-empty values in the file.
    not_carried: dict[str, int] = field(default_factory=dict)
    # Columns Tuva does not document -> non-empty values in the file.
    unknown_columns: dict[str, int] = field(default_factory=dict)
    # Our columns the output leaves empty -> why.
    left_empty: dict[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return self.rows_rejected + sum(v.rows for v in self.not_mapped)


@dataclass
class AdaptReport:
    source: str
    files: list[FileOutcome] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def failed_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.error is not None]

    @property
    def problems(self) -> int:
        return sum(f.problems for f in self.files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def summary(self) -> list[str]:
        """Lines for the terminal: per file, rows in and out, then each thing not mapped."""
        lines = [f"source: {self.source}"]
        for f in self.files:
            if f.error is not None:
                lines.append(f"{f.source_file}: NOT MAPPED: {f.error}")
                continue
            lines.append(
                f"{f.source_file} -> {f.output_file}: read {f.rows_read}, "
                f"written {f.rows_written}, rejected {f.rows_rejected}"
            )
            for v in f.rejected:
                lines.append(f"  rejected {v.rows} row(s): {v.reason} ({v.column}={v.value!r})")
            for v in f.not_mapped:
                lines.append(
                    f"  not mapped in {v.rows} row(s): {v.reason} ({v.column}={v.value!r})"
                )
            for v in f.notes:
                lines.append(f"  note, {v.rows} row(s): {v.reason}")
            for name, n in f.not_carried.items():
                lines.append(f"  column not carried: {name} ({n} non-empty value(s))")
            for name, n in f.unknown_columns.items():
                lines.append(f"  unknown column, ignored: {name} ({n} non-empty value(s))")
        for name in self.ignored:
            lines.append(f"ignored (not a Tuva input-layer file name): {name}")
        return lines
