"""Staging a landing file as a relation DuckDB can validate: its columns and a data row number.

Parquet is read in place (`file_row_number` is the row). CSV is parsed once, all VARCHAR, with
explicit options (no sniffing: a header of codes or a column of zip codes must not be guessed
at) into a Parquet file in the stage folder, in the file's order (its `file_row_number` numbers
the parsed rows), so the several passes scan compact columns instead of re-parsing text.
Lines DuckDB cannot parse (wrong number of fields, bytes that are not UTF-8) are captured with
`store_rejects` and become quarantine rows; the good rows' numbers are shifted past them so
`_row` is always the file's data row.
"""

from __future__ import annotations

import itertools
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.contract import DUCKDB_TYPES, FileKind
from pipelines.ingest.files import (
    LandingFile,
    blank_records_before,
    original_line,
    read_csv_header,
)
from pipelines.ingest.records import RecordScan, parquet_rows, scan_csv
from pipelines.ingest.report import FileRejected
from pipelines.ingest.validate import SourceColumn, accepts_source_type, ident, literal

_counter = itertools.count()


@dataclass(frozen=True)
class RejectedLine:
    """A CSV record DuckDB could not split into the header's columns."""

    row: int
    reason: str
    column: str | None
    text: str
    detail: str | None = None  # JSON: the line number and field counts of a malformed record


@dataclass
class StagedSource:
    sql: str
    rows: int
    columns: dict[str, SourceColumn]
    extras: list[SourceColumn]
    header_order: list[SourceColumn]
    rejected_lines: list[RejectedLine] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)
    staged_file: Path | None = None


def _match_columns(
    lf: LandingFile, kind: FileKind, sources: list[SourceColumn]
) -> tuple[dict[str, SourceColumn], list[SourceColumn]]:
    """Contract columns by name (trimmed, case-insensitive); the rest are extras."""
    seen: dict[str, SourceColumn] = {}
    for s in sources:
        key = s.header.strip().lower()
        if key in seen:
            raise FileRejected(
                "duplicate_column", f"{lf.name}: column {s.header!r} appears twice", s.header
            )
        seen[key] = s
    columns = {c.name: seen[c.name] for c in kind.columns if c.name in seen}
    for name in kind.required_columns:
        if name not in columns:
            raise FileRejected(
                "missing_column", f"{lf.name}: required column {name!r} is missing", name
            )
    contract = {c.name for c in kind.columns}
    extras = [s for key, s in seen.items() if key not in contract]
    return columns, extras


def stage(con: duckdb.DuckDBPyConnection, lf: LandingFile, stage_dir: Path) -> StagedSource:
    if lf.path.stat().st_size == 0:
        raise FileRejected("empty_file", f"{lf.name}: the file is empty (0 bytes, no header)")
    if lf.file_format == "parquet":
        return _stage_parquet(con, lf)
    return _stage_csv(con, lf, stage_dir)


def _stage_parquet(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> StagedSource:
    path = literal(str(lf.path))
    try:
        described = con.execute(f"describe select * from read_parquet({path})").fetchall()
        # The footer's count, read by pyarrow: the load is checked against it, not itself.
        rows = parquet_rows(lf.path)
    except (duckdb.Error, OSError, pa.ArrowException) as e:
        raise FileRejected(
            "unreadable_file", f"{lf.name}: not a readable Parquet file: {e}"
        ) from None
    sources = [
        SourceColumn(header=name, ident=ident(name), type=dtype) for name, dtype, *_ in described
    ]
    columns, extras = _match_columns(lf, lf.kind, sources)
    for col in lf.kind.columns:
        src = columns.get(col.name)
        if src is not None and not accepts_source_type(col, src.type):
            raise FileRejected(
                "wrong_type",
                f"{lf.name}: column {src.header!r} is stored as {src.type}; the contract "
                f"reads it as {col.dtype} ({DUCKDB_TYPES[col.dtype]}) and defines no "
                "conversion from that type. Deliver it as "
                f"{'text' if col.dtype == 'string' else col.dtype + ' or ISO text'}.",
                col.name,
            )
    sql = (
        f"(select file_row_number + 1 as _row, * exclude (file_row_number) "
        f"from read_parquet({path}, file_row_number = true))"
    )
    return StagedSource(sql=sql, rows=rows, columns=columns, extras=extras, header_order=sources)


def _stage_csv(con: duckdb.DuckDBPyConnection, lf: LandingFile, stage_dir: Path) -> StagedSource:
    try:
        header = read_csv_header(lf.path, lf.file_format)
    except UnicodeDecodeError:
        raise FileRejected("bad_encoding", f"{lf.name}: the header row is not UTF-8") from None
    except (OSError, EOFError, zlib.error) as e:
        if lf.file_format == "csv.gz":
            raise FileRejected(
                "corrupt_compression", f"{lf.name}: not a readable gzip file: {e}"
            ) from None
        raise FileRejected("unreadable_file", f"{lf.name}: cannot be read: {e}") from None
    if header is None:
        raise FileRejected("empty_file", f"{lf.name}: the file has no header row")
    _raise_if_wrong_delimiter(lf, header)
    sources = [
        SourceColumn(header=name or f"column_{i + 1}", ident=f"c{i}", type="VARCHAR")
        for i, name in enumerate(header)
    ]
    columns, extras = _match_columns(lf, lf.kind, sources)

    n = next(_counter)
    scan = _scan(lf)
    source_path = lf.path
    cleaned = stage_dir / f"clean_{n}.csv"

    def copy_without_malformed() -> Path:
        """The parser reads a copy without the malformed records (and with LF line ends), so
        one bad quote cannot swallow the records after it; rows keep their numbers."""
        with open(cleaned, "wb") as out:
            scan_csv(lf.path, lf.file_format, lambda _row, text: out.write(text + b"\n"))
        return cleaned

    if scan.malformed or scan.mixed_line_ends:
        source_path = copy_without_malformed()
    try:
        try:
            staged, rows, rejected = _parse_csv(con, lf, source_path, sources, scan, n, stage_dir)
        except FileRejected as e:
            if source_path == cleaned or e.reason != "unreadable_file":
                raise
            # The reader gave up on the file as a whole: the copy it reads instead holds only
            # records the scan could split, in one line-end convention.
            source_path = copy_without_malformed()
            staged, rows, rejected = _parse_csv(con, lf, source_path, sources, scan, n, stage_dir)
    finally:
        cleaned.unlink(missing_ok=True)
    if rows + len(rejected) != scan.records:
        raise FileRejected(
            "unreadable_file",
            f"{lf.name}: the CSV reader returned {rows + len(rejected):,} records where a "
            f"count of the file's lines finds {scan.records:,}; nothing of it was kept",
        )
    sql = _renumbered(literal(str(staged)), [r.row for r in rejected], n, con)
    return StagedSource(
        sql=sql,
        rows=scan.records,
        columns=columns,
        extras=extras,
        header_order=sources,
        rejected_lines=rejected,
        cleanup=[f"drop table if exists ingest_offsets_{n}"],
        staged_file=staged,
    )


def _scan(lf: LandingFile) -> RecordScan:
    """The independent record count (records.py); a damaged gzip stream rejects the file."""
    try:
        return scan_csv(lf.path, lf.file_format)
    except (OSError, EOFError, zlib.error) as e:
        if lf.file_format == "csv.gz":
            raise FileRejected(
                "corrupt_compression",
                f"{lf.name}: the gzip stream is damaged (truncated or corrupt); nothing of it "
                f"was kept, deliver it again: {e}",
            ) from None
        raise FileRejected("unreadable_file", f"{lf.name}: cannot be read: {e}") from None


def _parse_csv(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    source_path: Path,
    sources: list[SourceColumn],
    scan: RecordScan,
    n: int,
    stage_dir: Path,
) -> tuple[Path, int, list[RejectedLine]]:
    """DuckDB's parse of `source_path` (the file, or its copy without malformed records) into
    a staged Parquet file: (staged file, rows parsed, every record not parsed, numbered by its
    data row in the landed file)."""
    staged = stage_dir / f"stage_{n}.parquet"
    rejects, scans = f"ingest_rejects_{n}", f"ingest_reject_scans_{n}"
    spec = "{" + ", ".join(f"{literal(s.ident)}: 'VARCHAR'" for s in sources) + "}"
    read = (
        f"read_csv({literal(str(source_path))}, columns = {spec}, header = true, "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "null_padding = false, encoding = 'utf-8', compression = 'auto', "
        f"store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{scans}')"
    )
    try:
        # The copy keeps the reader's order (preserve_insertion_order, the connection's
        # default, is on here), so the staged file's row number is the parsed row's number:
        # no window over the whole file is needed to number the rows.
        con.execute(f"copy (select * from {read}) to {literal(str(staged))} (format parquet)")
        bad = con.execute(
            f"""
            select line - 1 as row,
                   min(line_byte_position) as at,
                   bool_or(error_type = 'INVALID ENCODING') as encoding,
                   bool_or(error_type in ('TOO MANY COLUMNS', 'TOO FEW COLUMNS')) as count,
                   min(column_name) as column_name,
                   min(csv_line) as csv_line
            from {rejects}
            group by line
            order by line
            """
        ).fetchall()
        rows = con.execute(f"select count(*) from read_parquet({literal(str(staged))})").fetchone()[
            0
        ]
    except duckdb.Error as e:
        if lf.file_format == "csv.gz" and "gzip" in str(e).lower():
            raise FileRejected(
                "corrupt_compression",
                f"{lf.name}: the gzip stream is damaged (truncated or corrupt); nothing of it "
                f"was kept, deliver it again: {e}",
            ) from None
        raise FileRejected("unreadable_file", f"{lf.name}: cannot be parsed as CSV: {e}") from None
    finally:
        con.execute(f"drop table if exists {rejects}")
        con.execute(f"drop table if exists {scans}")

    header_of = {s.ident: s.header for s in sources}
    malformed_rows = sorted(m.row for m in scan.malformed)
    if source_path != lf.path:
        blanks: dict[int, int] = {}  # the copy has no blank lines
        fmt = "csv"
    else:
        blanks = blank_records_before(lf, [row + 1 for row, *_ in bad]) if bad else {}
        fmt = lf.file_format
    rejected = [
        RejectedLine(
            row=_landed_row(row - blanks.get(row + 1, 0), malformed_rows),
            reason="bad_encoding"
            if encoding
            else ("wrong_field_count" if count else "unparseable_row"),
            column=header_of.get(column_name, column_name),
            text=original_line(source_path, fmt, at, csv_line) if encoding else csv_line,
        )
        for row, at, encoding, count, column_name, csv_line in bad
    ]
    rejected += [
        RejectedLine(
            row=m.row,
            reason=m.reason,
            column=None,
            text=m.text.decode("utf-8", errors="backslashreplace"),
            detail=json.dumps({"line": m.line, "fields": m.fields, "expected": len(sources)}),
        )
        for m in scan.malformed
    ]
    return staged, rows, sorted(rejected, key=lambda r: r.row)


def _landed_row(row: int, malformed_rows: list[int]) -> int:
    """The landed file's data row of the copy's `row` (the copy lacks the malformed rows)."""
    for m in malformed_rows:
        if m <= row:
            row += 1
        else:
            break
    return row


_OTHER_DELIMITERS = {"|": "a pipe (|)", "\t": "a tab", ";": "a semicolon (;)"}


def _raise_if_wrong_delimiter(lf: LandingFile, header: list[str]) -> None:
    """A header that is one field which splits on another delimiter into the contract's
    required columns: the file is not comma-separated (say so, not 'missing column')."""
    if len(header) != 1:
        return
    for delimiter, called in _OTHER_DELIMITERS.items():
        names = {n.strip().lower() for n in header[0].split(delimiter)}
        if len(names) > 1 and set(lf.kind.required_columns) <= names:
            raise FileRejected(
                "wrong_delimiter",
                f"{lf.name}: the fields are separated by {called}, not a comma; deliver "
                "comma-separated CSV",
            )


def _renumbered(
    staged: str, rejected_rows: list[int], n: int, con: duckdb.DuckDBPyConnection
) -> str:
    """The staged rows with `_row` = their data row in the file, skipping rejected lines.

    The k-th good row sits after every rejected row r_j (j-th, 1-based) with r_j - j < k, so
    its row is k plus the count of those: an ASOF join on the offsets r_j - j.
    """
    numbered = (
        "(select file_row_number + 1 as _k, * exclude (file_row_number) "
        f"from read_parquet({staged}, file_row_number = true))"
    )
    if not rejected_rows:
        return f"(select _k as _row, * exclude (_k) from {numbered})"
    offsets = {}
    for j, r in enumerate(sorted(rejected_rows), start=1):
        offsets[r - j] = j  # for equal offsets the larger j is the one that counts
    con.execute(f"create or replace temp table ingest_offsets_{n} (t bigint, j bigint)")
    con.executemany(f"insert into ingest_offsets_{n} values (?, ?)", list(offsets.items()))
    return (
        f"(select s._k + coalesce(o.j, 0) as _row, s.* exclude (_k) "
        f"from {numbered} s asof left join ingest_offsets_{n} o on s._k > o.t)"
    )
