"""What one ingest run did, per file: the object the Dagster asset puts in its metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipelines.ingest.files import RefusedEntry

Status = Literal["loaded", "rejected"]


class FileRejected(Exception):
    """A whole file cannot be loaded (missing required column, empty, unreadable).

    `reason` is a short stable code, like the quarantine reasons; the message names the file
    and, where there is one, the column.
    """

    def __init__(self, reason: str, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.column = column


@dataclass(frozen=True)
class QualitySummary:
    """A Great Expectations run over a loaded file's rows (see pipelines/quality.py)."""

    suite: str
    success: bool
    rows_validated: int
    failed: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileResult:
    name: str
    kind: str
    sha256: str
    file_format: str
    status: Status
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0  # loaded rows with a data-quality warning (raw.row_warnings)
    rows_superseded: int = 0  # earlier rows this file corrected (raw.superseded_rows)
    rows_duplicate: int = 0  # rows repeating a row already in force, identical
    error: str | None = None
    seconds: float = 0.0
    quality: QualitySummary | None = None
    reason: str | None = None  # the rejection's code (FileRejected.reason)


@dataclass(frozen=True)
class SkippedFile:
    """A file whose bytes the ledger already holds (this run or an earlier one).

    `status` and `error` are the ledger's: bytes rejected on an earlier night and still in
    the landing folder are still rejected tonight.
    """

    name: str
    sha256: str
    first_loaded_as: str
    kind: str | None = None
    status: str = "loaded"
    error: str | None = None
    reason: str | None = None


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    # Entries not loaded: ignored by a documented rule, or rejected before being read.
    refused: list[RefusedEntry] = field(default_factory=list)

    @property
    def ignored(self) -> list[str]:
        return [e.name for e in self.refused if e.state == "ignored"]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    def night_rows(self) -> list[tuple]:
        """(entry_name, sha256, kind, state, reason, message, read, loaded, quarantined,
        warned, superseded, duplicate) for every entry of the landing folder: the rows of
        raw.night_files for one run."""
        rows: list[tuple] = []
        for f in self.files:
            if f.status == "rejected":
                state, reason = "rejected", f.reason or "rejected"
            else:
                state = "loaded_with_quarantine" if f.rows_quarantined else "loaded"
                reason = None
            rows.append(
                (
                    f.name,
                    f.sha256,
                    f.kind,
                    state,
                    reason,
                    f.error,
                    f.rows_read,
                    f.rows_loaded,
                    f.rows_quarantined,
                    f.rows_warned,
                    f.rows_superseded,
                    f.rows_duplicate,
                )
            )
        for s in self.skipped:
            if s.status == "rejected":
                message = f"{s.name}: still rejected (same bytes as {s.first_loaded_as}): {s.error}"
                reason = s.reason or "rejected"
                rows.append(
                    (s.name, s.sha256, s.kind, "rejected", reason, message, 0, 0, 0, 0, 0, 0)
                )
            else:
                message = f"{s.name}: same bytes as {s.first_loaded_as}, already loaded"
                rows.append(
                    (s.name, s.sha256, s.kind, "already_loaded", None, message, 0, 0, 0, 0, 0, 0)
                )
        for e in self.refused:
            rows.append((e.name, None, e.kind, e.state, e.reason, e.message, 0, 0, 0, 0, 0, 0))
        return rows

    def to_markdown(self) -> str:
        lines = [
            "| file | kind | status | read | loaded | quarantined | quality | error |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in self.files:
            quality = "" if f.quality is None else ("ok" if f.quality.success else "failed")
            lines.append(
                f"| {f.name} | {f.kind} | {f.status} | {f.rows_read} | {f.rows_loaded} "
                f"| {f.rows_quarantined} | {quality} | {f.error or ''} |"
            )
        for s in self.skipped:
            lines.append(f"| {s.name} | | skipped (same bytes as {s.first_loaded_as}) | | | | | |")
        for e in self.refused:
            lines.append(f"| {e.name} | {e.kind or ''} | {e.state} ({e.reason}) | | | | | |")
        return "\n".join(lines)
