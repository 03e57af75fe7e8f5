"""Finding landing files, naming their kind and format, hashing their content.

The ledger is keyed by the content hash, not the name, so the same bytes landed twice (or
under a new name) load once. Discovery is top-level only and sorted by name, because file
order decides which copy of a duplicated key wins.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipelines.contract import (
    FILE_KINDS,
    UNSUPPORTED_COMPRESSION,
    FileKind,
    ignore_rule_of,
    kind_of,
)

FileFormat = Literal["csv", "csv.gz", "parquet"]

# Longest suffix first, so `.csv.gz` is not read as an unknown `.gz`.
_FORMATS: tuple[tuple[str, FileFormat], ...] = (
    (".csv.gz", "csv.gz"),
    (".csv", "csv"),
    (".parquet", "parquet"),
)
_HASH_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class LandingFile:
    path: Path
    kind: FileKind
    file_format: FileFormat

    @property
    def name(self) -> str:
        return self.path.name


def format_of(file_name: str) -> FileFormat | None:
    lower = file_name.lower()
    for suffix, fmt in _FORMATS:
        if lower.endswith(suffix):
            return fmt
    return None


@dataclass(frozen=True)
class RefusedEntry:
    """A landing entry that is not loaded tonight: ignored by a documented rule, or rejected
    before any of it is read (reason: a short stable code; message: a sentence)."""

    name: str
    state: Literal["ignored", "rejected"]
    reason: str
    message: str
    kind: str | None = None


def discover(landing_dir: Path) -> tuple[list[LandingFile], list[RefusedEntry]]:
    """Landing files to load (sorted by name) and every other top-level entry with its state.

    Nothing is passed over in silence: an entry is loaded, ignored by a rule of the contract
    (pipelines.contract.IGNORE_RULES), or rejected with a reason a person understands.
    """
    files: list[LandingFile] = []
    refused: list[RefusedEntry] = []
    for path in sorted(Path(landing_dir).iterdir(), key=lambda p: p.name):
        entry = _landing_file(path)
        if isinstance(entry, LandingFile):
            files.append(entry)
        else:
            refused.append(entry)
    return files, refused


def _landing_file(path: Path) -> LandingFile | RefusedEntry:
    name = path.name
    rule = ignore_rule_of(name)
    if rule is not None:
        return RefusedEntry(name, "ignored", rule.reason, f"{name}: ignored, {rule.why}")
    kind = kind_of(name)
    kind_name = kind.name if kind else None

    def rejected(reason: str, why: str) -> RefusedEntry:
        return RefusedEntry(name, "rejected", reason, f"{name}: {why}", kind_name)

    if path.is_symlink() and not path.exists():
        return rejected("dangling_link", "a link to a file that does not exist")
    if path.is_dir():
        return rejected("not_a_file", "a folder; deliver files at the top of the landing folder")
    if not path.is_file():
        return rejected("not_a_file", "not a regular file")
    if kind is None:
        prefixes = ", ".join(sorted(FILE_KINDS))
        return rejected(
            "unknown_kind",
            f"the name does not start with a landing kind ({prefixes}; any case)",
        )
    fmt = format_of(name)
    if fmt is None:
        lower = name.lower()
        if lower.endswith(UNSUPPORTED_COMPRESSION):
            return rejected(
                "unsupported_compression",
                "compressed or archived in a form the ingest does not open; deliver .csv, "
                ".csv.gz or .parquet",
            )
        return rejected("unsupported_format", "not .csv, .csv.gz or .parquet")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        return rejected("no_permission", "the pipeline may not read it (file permissions)")
    except OSError as e:
        return rejected("unreadable", f"cannot be opened: {e.strerror or e}")
    return LandingFile(path=path, kind=kind, file_format=fmt)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """What a file was when it was hashed: a later difference means it was still being written."""

    size: int
    mtime_ns: int
    sha256: str


def snapshot(path: Path) -> Snapshot:
    """Size and mtime first, then the hash: a write during hashing shows up as a later change."""
    st = path.stat()
    return Snapshot(size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256_of(path))


def change_since(path: Path, seen: Snapshot, hash_content: bool = True) -> str | None:
    """How the file differs from `seen` (None: same size, mtime and content hash).

    The hash is compared too, because a rewrite within one mtime tick keeps size and mtime;
    `hash_content=False` leaves it to a caller that has hashed what it kept since its last read.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return "it was removed"
    if st.st_size != seen.size:
        return f"its size went from {seen.size} to {st.st_size} bytes"
    if st.st_mtime_ns != seen.mtime_ns:
        return "its modification time changed"
    if hash_content and sha256_of(path) != seen.sha256:
        return "its content hash changed"
    return None


def open_text_bytes(path: Path, file_format: FileFormat) -> io.BufferedIOBase:
    """The file's bytes, decompressed when gzip."""
    if file_format == "csv.gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def read_csv_header(path: Path, file_format: FileFormat) -> list[str] | None:
    """The header record's column names, or None for a file with no header at all.

    Read in Python (one record) rather than sniffed by DuckDB, because the sniffer can take a
    header of codes for a data row; the names then go to read_csv explicitly. Raises
    UnicodeDecodeError when the header is not UTF-8.
    """
    # Only the header's own bytes are decoded: a bad byte in a data row is that row's problem.
    with open_text_bytes(path, file_format) as raw:
        first = raw.readline()
        while first.count(b'"') % 2 and (more := raw.readline()):
            first += more  # a quoted header name with a line break in it
    if not first.strip():
        return None
    header = next(csv.reader(io.StringIO(first.decode("utf-8-sig"), newline="")))
    return [name.strip() for name in header]


def blank_records_before(lf: LandingFile, lines: list[int]) -> dict[int, int]:
    """For each record number in `lines` (header = 1), how many blank records precede it.

    DuckDB's reader skips blank lines without a row but counts them in the record numbers it
    gives rejected lines; the data rows do not count them. Only run when a file has rejected
    lines (rare), reading as far as the last one.
    """
    wanted = sorted(set(lines))
    found: dict[int, int] = {}
    blank = 0
    with open_text_bytes(lf.path, lf.file_format) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        records = csv.reader(text)
        i = 0
        try:
            for number, record in enumerate(records, start=1):
                while i < len(wanted) and wanted[i] == number:
                    found[wanted[i]] = blank
                    i += 1
                if i == len(wanted):
                    break
                if not record:
                    blank += 1
        except csv.Error:
            pass  # a record Python cannot split either: keep DuckDB's numbers from here on
    return found


def original_line(path: Path, file_format: FileFormat, near: int, as_read: str) -> str:
    """The raw text of a line DuckDB could not decode, with bad bytes as backslash escapes.

    DuckDB reports the line with `?` for the bad bytes and a byte position that can be one or
    two bytes past the line start, so the candidates around it are compared with what DuckDB
    read; when none matches, DuckDB's text is kept (nothing is dropped either way).
    """
    with open_text_bytes(path, file_format) as f:
        for start in (near - 1, near, near - 2):
            if start < 0:
                continue
            f.seek(start)
            line = f.readline().rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
            if _same_line(line, as_read):
                return line
    return as_read


def _same_line(original: str, as_read: str) -> bool:
    """DuckDB's `?` stand for one or more bad bytes (and may swallow the next byte): the text
    before the first `?` and after the last must match."""
    if "?" not in as_read:
        return original == as_read
    head, tail = as_read.split("?", 1)[0], as_read.rsplit("?", 1)[1]
    return original.startswith(head) and original.endswith(tail)
