"""Counting a landing file's records without trusting the loading parser.

One unterminated quote once made the CSV parser swallow the rest of a file, and the ledger
recorded what the parser returned, so "read = loaded + quarantined" held over a file that had
lost 57% of its rows. The count the ledger checks against therefore comes from here:

- CSV: an independent byte scan. One record per line, unless a quoted field holds a line
  break; such a record is accepted only when its quote closes within a few lines and it then
  has the header's number of fields. Otherwise the line that opened the quote is a malformed
  record on its own (`unterminated_quote`) and the lines after it are read afresh. A record
  with another number of fields than the header is malformed too (`wrong_field_count`).
  Blank lines are not records. A block without a quote or a blank line is counted by its line
  breaks alone, which keeps the scan near the disk's speed on ordinary files.
- Parquet: the footer's row count (pyarrow), not the scan DuckDB loads with.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.ingest.files import FileFormat, open_text_bytes

# A quoted field may hold line breaks; one whose quote has not closed after this many lines
# is taken for an unterminated quote.
MAX_RECORD_LINES = 50
_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class MalformedRecord:
    """A record the scan cannot split into the header's fields: quarantined alone."""

    row: int  # the data row it holds (header excluded, blank lines not counted)
    line: int  # its first physical line in the file (the header is line 1)
    reason: str  # unterminated_quote | wrong_field_count
    text: bytes  # the raw bytes of the line(s), line breaks excluded at the end
    fields: int | None = None


@dataclass
class RecordScan:
    records: int = 0  # data records, malformed ones included
    header_lines: int = 0
    malformed: list[MalformedRecord] = field(default_factory=list)
    crlf_lines: int = 0  # lines ending in CR LF; with LF-only lines too the endings are mixed
    lf_lines: int = 0

    @property
    def mixed_line_ends(self) -> bool:
        return bool(self.crlf_lines and self.lf_lines)


def count_records(path: Path, file_format: FileFormat) -> int:
    """A landing file's data records, counted without the loading parser."""
    if file_format == "parquet":
        return parquet_rows(path)
    return scan_csv(path, file_format).records


def parquet_rows(path: Path) -> int:
    """The row count written in the Parquet footer."""
    return pq.ParquetFile(path).metadata.num_rows


def _fields(text: bytes) -> int | None:
    """The number of fields of one complete record, or None when its quoting is invalid or
    it holds a carriage return outside quotes (a CSV reader takes that for a line end)."""
    if b'"' not in text:
        return None if b"\r" in text else text.count(b",") + 1
    try:
        rows = list(
            csv.reader(
                io.StringIO(text.decode("utf-8", "surrogateescape"), newline=""), strict=True
            )
        )
    except csv.Error:
        return None
    return len(rows[0]) if len(rows) == 1 else None


def _bad_reason(text: bytes, n: int | None) -> str:
    if n is not None:
        return "wrong_field_count"
    if text.count(b'"') % 2:
        return "unterminated_quote"
    return "unparseable_row"


def _physical_lines(path: Path, file_format: FileFormat) -> Iterator[tuple[bool, bytes]]:
    """(plain, block) pairs: a plain block is whole lines without a quote or a blank line
    (counted by its line breaks); otherwise each line alone, without its line break."""
    with open_text_bytes(path, file_format) as f:
        rest = b""
        while chunk := f.read(_BLOCK):
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            block, rest = data[: cut + 1], data[cut + 1 :]
            if (
                b'"' not in block
                and b"\n\n" not in block
                and b"\n\r\n" not in block
                and not block.startswith((b"\n", b"\r\n"))
                and block.count(b"\r") == block.count(b"\r\n")
            ):
                yield True, block
            else:
                for line in block[:-1].split(b"\n"):
                    yield False, line
        if rest:
            yield False, rest


def scan_csv(
    path: Path, file_format: FileFormat, on_record: Callable[[int, bytes], None] | None = None
) -> RecordScan:
    """Count the data records of a CSV file and find the malformed ones (see module doc).

    `on_record(row, text)` is called for the header (row 0) and every well-formed record, in
    order, with its raw bytes (a second pass writes a file without the malformed records).
    Raises OSError / EOFError / zlib.error when the bytes (or the gzip stream) cannot be read.
    """
    scan = RecordScan()
    header_fields: int | None = None
    line_no = 0
    pending: deque[tuple[int, bytes]] = deque()  # lines of a record whose quote is open

    def complete(lines: list[tuple[int, bytes]]) -> None:
        nonlocal header_fields
        text = b"\n".join(t.rstrip(b"\r") for _, t in lines)
        n = _fields(text)
        if header_fields is None:
            header_fields = n or 1
            scan.header_lines = lines[-1][0]
            if on_record is not None:
                on_record(0, text)
            return
        scan.records += 1
        first = lines[0][0]
        if n == header_fields:
            if on_record is not None:
                on_record(scan.records, text)
        else:
            scan.malformed.append(
                MalformedRecord(
                    scan.records,
                    first,
                    _bad_reason(text, n),
                    text,
                    n,
                )
            )

    def feed(number: int, line: bytes) -> None:
        """Take one physical line; `pending` holds an open quoted record's lines."""
        if not pending:
            if not line.rstrip(b"\r"):
                return  # a blank line is not a record
            if line.count(b'"') % 2 == 0:
                complete([(number, line)])
            else:
                pending.append((number, line))
            return
        pending.append((number, line))
        quotes = sum(t.count(b'"') for _, t in pending)
        if quotes % 2 == 0:
            lines = list(pending)
            text = b"\n".join(t.rstrip(b"\r") for _, t in lines)
            if header_fields is None or _fields(text) == header_fields:
                pending.clear()
                complete(lines)
                return
            give_up()
        elif len(pending) >= MAX_RECORD_LINES:
            give_up()

    def give_up() -> None:
        """The line that opened the quote is a record alone; the lines after it are re-read."""
        first, *others = list(pending)
        pending.clear()
        complete([first])
        for number, line in others:
            feed(number, line)

    for plain, block in _physical_lines(path, file_format):
        if plain and not pending and header_fields is not None and on_record is None:
            n = block.count(b"\n")
            crlf = block.count(b"\r\n")
            scan.records += n
            scan.crlf_lines += crlf
            scan.lf_lines += n - crlf
            line_no += n
            continue
        lines = block.split(b"\n")[:-1] if plain else [block]
        for line in lines:
            line_no += 1
            if line.endswith(b"\r"):
                scan.crlf_lines += 1
            elif line:
                scan.lf_lines += 1
            feed(line_no, line)
    while pending:
        give_up()
    return scan
