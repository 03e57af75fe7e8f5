"""The Tuva Project input layer (`medical_claim`, `eligibility`) mapped to our landing contract.

Mapped from tuva-health/tuva: medical_claim as the package reads it in
models/claims_preprocessing/normalized_input/staging/normalized_input__stg_medical_claim.sql at
commit 04dd9a25dd4e73669fb6e2edaa89caa76135a418 (claim_type values from
models/input_layer/claims/input_layer__medical_claim.yml at 14625f635a3e); eligibility from
models/input_layer/input_layer__eligibility.yml at 04999f7d3cd8. The mapping itself is data,
in tuva.toml beside this module.

Why an adapter and not a second contract: the ingest stays the one place that validates,
normalizes codes and quarantines, for every plan alike. So this maps only what differs in
meaning: column names, Tuva's vocabularies (claim types, genders) and code systems. A row it
cannot express in our contract (a dental claim, ICD-9 codes) is rejected with its file, row,
column, value and reason; a value it cannot carry is counted. Everything else passes through
as delivered (codes with dots, `13I` bill types, empty dates), and the ingest checks it.

Files: top level of the input folder, CSV (`.csv`, `.csv.gz`) or Parquet, whose name without
the extension is the table name or starts with it and `_`, `-` or `.` (`medical_claim.csv`,
`medical_claim_2026-11.parquet`, `eligibility-part2.csv`); anything else is listed as ignored.
Each claims file becomes `medical_claims_tuva_<source name without extension>.parquet` in the
landing folder; all eligibility files together become `eligibility_tuva.parquet` (Tuva's
eligibility is every span: one snapshot). Each is written whole under a hidden name and
renamed into place, and the same input gives the same bytes, so a rerun is loaded once by the
ingest's content-hash ledger. `tuva_rejects.csv` and `tuva_adapt_report.json` go to a report
folder, by default the hidden `<landing>/.tuva_adapt/`, which the ingest passes over.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Literal

import duckdb

from pipelines.adapt.report import AdaptReport, FileOutcome, Reject, ValueCount
from pipelines.contract import DUCKDB_TYPES, FILE_KINDS, Column, FileKind
from pipelines.ingest.files import FileFormat, LandingFile, format_of
from pipelines.ingest.report import FileRejected
from pipelines.ingest.stage import StagedSource, stage
from pipelines.ingest.validate import SourceColumn, ident, literal

MAPPING_FILE = Path(__file__).with_name("tuva.toml")
REJECTS_FILE = "tuva_rejects.csv"
REPORT_FILE = "tuva_adapt_report.json"
REPORT_DIR = ".tuva_adapt"
_NAME_SEPARATORS = ("_", "-", ".")


@dataclass(frozen=True)
class ValueMap:
    """Tuva value (compared lower-case) -> ours; an unlisted value rejects the row or is
    left empty."""

    mapping: dict[str, str]
    unmapped: Literal["reject", "empty"]


@dataclass(frozen=True)
class CodeType:
    """A code-system column: rows whose codes are in another system are rejected."""

    column: str
    accepted: str
    codes_prefix: str


@dataclass(frozen=True)
class LostValue:
    """A Tuva value our contract cannot carry (e.g. death_flag 1 without a death_date)."""

    column: str
    values: tuple[str, ...]
    unless: str
    reason: str


@dataclass(frozen=True)
class TableMapping:
    tuva_table: str
    target: FileKind
    documented: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    numbered: dict[str, int]
    constants: dict[str, str]
    empty: dict[str, str]
    values: dict[str, ValueMap]
    code_types: tuple[CodeType, ...] = ()
    lost: tuple[LostValue, ...] = ()
    commit: str = ""
    # All source files of the table become one landing file.
    combine: bool = False

    def resolved_columns(self) -> dict[str, tuple[str, ...]]:
        """Our column -> Tuva sources, numbered columns included for the numbers our
        contract has now (read at run time, so a contract that grows needs no change here)."""
        columns = dict(self.columns)
        for prefix, highest in self.numbered.items():
            for i in range(2, highest + 1):
                if f"{prefix}{i}" in self.target.by_name:
                    columns[f"{prefix}{i}"] = (f"{prefix}{i}",)
        return columns

    def with_member_id_from(self, tuva_column: str) -> TableMapping:
        return replace(self, columns={**self.columns, "member_id": (tuva_column,)})


@cache
def load_mapping(path: Path = MAPPING_FILE) -> dict[str, TableMapping]:
    """The Tuva tables this adapter reads, by Tuva table name."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    tables = {}
    for name in ("medical_claim", "eligibility"):
        t = raw[name]
        documented = list(t["documented"])
        for prefix, highest in t["documented_numbered"].items():
            documented += [f"{prefix}{i}" for i in range(1, highest + 1)]
        tables[name] = TableMapping(
            tuva_table=name,
            target=FILE_KINDS[t["target"]],
            documented=tuple(documented),
            columns={k: tuple(v) for k, v in t["columns"].items()},
            numbered=dict(t.get("numbered", {})),
            constants=dict(t.get("constants", {})),
            empty=dict(t.get("empty", {})),
            values={
                k: ValueMap(mapping=dict(v["map"]), unmapped=v["unmapped"])
                for k, v in t.get("values", {}).items()
            },
            code_types=tuple(
                CodeType(c["column"], c["accepted"], c["codes"]) for c in t.get("code_types", [])
            ),
            lost=tuple(
                LostValue(c["column"], tuple(c["values"]), c["unless"], c["reason"])
                for c in t.get("lost", [])
            ),
            commit=raw["source"][f"{name}_commit"],
            combine=t.get("combine", False),
        )
    return tables


@dataclass(frozen=True)
class TuvaFile:
    path: Path
    table: str
    file_format: FileFormat

    @property
    def stem(self) -> str:
        name = self.path.name
        return name[: len(name) - len(self.file_format) - 1]


def table_of(file_name: str, tables: tuple[str, ...]) -> str | None:
    """The Tuva table a file holds, by the naming rule in the module docstring."""
    fmt = format_of(file_name)
    if fmt is None:
        return None
    stem = file_name[: len(file_name) - len(fmt) - 1].lower()
    for table in tables:
        if stem == table or (stem.startswith(table) and stem[len(table)] in _NAME_SEPARATORS):
            return table
    return None


def discover(input_dir: Path, tables: tuple[str, ...]) -> tuple[list[TuvaFile], list[str]]:
    files, ignored = [], []
    for path in sorted(input_dir.iterdir(), key=lambda p: p.name):
        table = table_of(path.name, tables) if path.is_file() else None
        if table is None:
            ignored.append(path.name)
        else:
            files.append(TuvaFile(path, table, format_of(path.name)))  # type: ignore[arg-type]
    return files, ignored


def output_name(mapping: TableMapping, tf: TuvaFile) -> str:
    """Claims: one landing file per source file (deliveries add up). Eligibility: one for all
    (a snapshot of every span: split, an unchanged part would not be delivered again)."""
    if mapping.combine:
        return f"{mapping.target.name}_tuva.parquet"
    return f"{mapping.target.name}_tuva_{tf.stem}.parquet"


# --- SQL over one staged file -----------------------------------------------------------


@dataclass
class _Sql:
    """Expressions over a staged Tuva file (`source.sql`, which carries `_row`)."""

    mapping: TableMapping
    source: StagedSource
    columns: dict[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.columns = self.mapping.resolved_columns()

    def has(self, tuva: str) -> bool:
        return tuva in self.source.columns

    def value(self, tuva: str) -> str:
        """The delivered value: text trimmed with empty text as null (as the ingest reads it);
        a typed Parquet value as it is."""
        s = self.source.columns[tuva]
        if s.type.upper() == "VARCHAR":
            return f"nullif(trim({s.ident}), '')"
        return s.ident

    def text(self, tuva: str) -> str:
        return f"cast({self.value(tuva)} as varchar)"

    def present(self, our: str) -> list[str]:
        return [t for t in self.columns.get(our, ()) if self.has(t)]

    def mapped(self, col: Column) -> str:
        if col.name in self.mapping.constants:
            return f"{literal(self.mapping.constants[col.name])} as {ident(col.name)}"
        sources = self.present(col.name)
        if not sources:
            return f"cast(null as {DUCKDB_TYPES[col.dtype]}) as {ident(col.name)}"
        types = {self.source.columns[t].type.upper() for t in sources}
        parts = [self.value(t) if len(types) == 1 else self.text(t) for t in sources]
        expr = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
        vm = self.mapping.values.get(col.name)
        if vm is not None:
            whens = " ".join(
                f"when {literal(k)} then {literal(v)}" for k, v in sorted(vm.mapping.items())
            )
            expr = f"case lower(cast({expr} as varchar)) {whens} end"
        return f"{expr} as {ident(col.name)}"

    def codes_present(self, prefix: str) -> str | None:
        numbered = [t for t in self.mapping.documented if t.removeprefix(prefix).isdigit()]
        present = [t for t in numbered if self.has(t)]
        if not present:
            return None
        return f"coalesce({', '.join(self.text(t) for t in present)}) is not null"

    def reject_rules(self) -> list[tuple[str, str, str, str]]:
        """(condition, Tuva column, value, reason), in the order a row's reason is chosen."""
        rules = []
        for our, vm in sorted(self.mapping.values.items()):
            sources = self.present(our)
            if vm.unmapped != "reject" or not sources:
                continue
            t = sources[0]
            keys = ", ".join(literal(k) for k in sorted(vm.mapping))
            cond = f"{self.text(t)} is not null and lower({self.text(t)}) not in ({keys})"
            rules.append((cond, t, self.text(t), f"unmapped_{our}"))
        for ct in self.mapping.code_types:
            codes = self.codes_present(ct.codes_prefix)
            if not self.has(ct.column) or codes is None:
                continue
            v = self.text(ct.column)
            cond = f"{v} is not null and lower({v}) <> {literal(ct.accepted)} and {codes}"
            rules.append((cond, ct.column, v, f"unmapped_{ct.column}"))
        return rules

    def flagged(self) -> str:
        """The staged rows with `_reason`, `_column`, `_value` (null when the row maps)."""
        rules = self.reject_rules()
        if not rules:
            nothing = "null::varchar as _reason, null::varchar as _column, null::varchar as _value"
            return f"(select *, {nothing} from {self.source.sql})"

        reason = " ".join(f"when {cond} then {literal(why)}" for cond, _, _, why in rules)
        column = " ".join(f"when {cond} then {literal(col)}" for cond, col, _, _ in rules)
        value = " ".join(f"when {cond} then {v}" for cond, _, v, _ in rules)
        return (
            f"(select *, case {reason} end as _reason, case {column} end as _column, "
            f"case {value} end as _value from {self.source.sql})"
        )


def _count_by_value(
    con: duckdb.DuckDBPyConnection, relation: str, column: str, value: str, cond: str, reason: str
) -> list[ValueCount]:
    rows = con.execute(
        f"select {value} as v, count(*) from {relation} where {cond} group by v order by v"
    ).fetchall()
    return [ValueCount(column, v, n, reason) for v, n in rows]


def _non_empty_counts(sql: _Sql, con: duckdb.DuckDBPyConnection, names: list[str]) -> list[int]:
    if not names:
        return []
    counts = ", ".join(f"count({sql.text(n)})" for n in names)
    return list(con.execute(f"select {counts} from {sql.source.sql}").fetchone())


def _report_values(
    con: duckdb.DuckDBPyConnection, sql: _Sql, kept: str, outcome: FileOutcome
) -> None:
    """Over the rows written: values left empty (problems) and readings applied (notes)."""
    mapping = sql.mapping
    for our, vm in sorted(mapping.values.items()):
        sources = sql.present(our)
        if vm.unmapped != "empty" or not sources:
            continue
        v = sql.text(sources[0])
        keys = ", ".join(literal(k) for k in sorted(vm.mapping))
        cond = f"{v} is not null and lower({v}) not in ({keys})"
        outcome.not_mapped += _count_by_value(con, kept, sources[0], v, cond, f"unmapped_{our}")
    for lv in mapping.lost:
        if not sql.has(lv.column):
            continue
        v = sql.text(lv.column)
        unless = f" and {sql.text(lv.unless)} is null" if sql.has(lv.unless) else ""
        values = ", ".join(literal(x) for x in lv.values)
        cond = f"lower({v}) in ({values}){unless}"
        outcome.not_mapped += _count_by_value(con, kept, lv.column, v, cond, lv.reason)
    for our in sorted(sql.columns):
        present = sql.present(our)
        for i, later in enumerate(present[1:], start=1):
            earlier = " and ".join(f"{sql.text(t)} is null" for t in present[:i])
            n = con.execute(
                f"select count(*) from {kept} where {earlier} and {sql.text(later)} is not null"
            ).fetchone()[0]
            if n:
                outcome.notes.append(ValueCount(our, None, n, f"{our} taken from {later}"))
    for ct in mapping.code_types:
        codes = sql.codes_present(ct.codes_prefix)
        if codes is None:
            continue
        typed = f"{sql.text(ct.column)} is null and " if sql.has(ct.column) else ""
        n = con.execute(f"select count(*) from {kept} where {typed}{codes}").fetchone()[0]
        if n:
            outcome.notes.append(
                ValueCount(ct.column, None, n, f"{ct.column} empty: codes read as {ct.accepted}")
            )


def _column_report(con: duckdb.DuckDBPyConnection, sql: _Sql, outcome: FileOutcome) -> None:
    """Which of the file's columns went nowhere, and which of ours stay empty."""
    mapping = sql.mapping
    used = {t for sources in sql.columns.values() for t in sources}
    used |= {ct.column for ct in mapping.code_types} | {lv.column for lv in mapping.lost}
    not_carried = sorted(t for t in sql.source.columns if t not in used)
    unknown = [x.header for x in sql.source.extras]
    counts = _non_empty_counts(sql, con, not_carried)
    outcome.not_carried = dict(zip(not_carried, counts, strict=True))
    extra_counts = [
        con.execute(
            f"select count(nullif(trim(cast({x.ident} as varchar)), '')) from {sql.source.sql}"
        ).fetchone()[0]
        for x in sql.source.extras
    ]
    outcome.unknown_columns = dict(zip(unknown, extra_counts, strict=True))
    for col in mapping.target.columns:
        if col.name in mapping.constants or sql.present(col.name):
            continue
        if col.name in mapping.empty:
            outcome.left_empty[col.name] = mapping.empty[col.name]
        elif col.name in sql.columns:
            wanted = " or ".join(sql.columns[col.name])
            outcome.left_empty[col.name] = f"the file has no {wanted} column"
        else:
            outcome.left_empty[col.name] = "no Tuva column"


def _tuva_kind(mapping: TableMapping) -> FileKind:
    """The Tuva table as a FileKind, for matching a file's columns (trimmed, any case) and
    the ingest's CSV reading. Required: the single source of each of our required columns."""
    required = {
        sources[0]
        for our, sources in mapping.resolved_columns().items()
        if len(sources) == 1 and mapping.target.by_name[our].required
    }
    names = list(dict.fromkeys([*mapping.documented, *required]))
    return FileKind(
        name=mapping.tuva_table,
        columns=tuple(Column(n, "string", required=n in required) for n in names),
    )


def _stage_parquet(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> StagedSource:
    """A Parquet file as it is: Tuva's own types (integers, dates, decimals, flags) are Tuva's
    to choose, so they are not held to our contract's types here; the ingest checks ours."""
    path = literal(str(lf.path))
    try:
        described = con.execute(f"describe select * from read_parquet({path})").fetchall()
        rows = con.execute(f"select count(*) from read_parquet({path})").fetchone()[0]
    except duckdb.Error as e:
        raise FileRejected(
            "unreadable_file", f"{lf.name}: not a readable Parquet file: {e}"
        ) from None
    by_name: dict[str, SourceColumn] = {}
    for name, dtype, *_ in described:
        key = name.strip().lower()
        if key in by_name:
            raise FileRejected("duplicate_column", f"{lf.name}: column {name!r} appears twice")
        by_name[key] = SourceColumn(header=name, ident=ident(name), type=dtype)
    for name in lf.kind.required_columns:
        if name not in by_name:
            raise FileRejected(
                "missing_column", f"{lf.name}: required column {name!r} is missing", name
            )
    columns = {k: s for k, s in by_name.items() if k in lf.kind.by_name}
    extras = [s for k, s in by_name.items() if k not in lf.kind.by_name]
    sql = (
        f"(select file_row_number + 1 as _row, * exclude (file_row_number) "
        f"from read_parquet({path}, file_row_number = true))"
    )
    return StagedSource(
        sql=sql, rows=rows, columns=columns, extras=extras, header_order=list(by_name.values())
    )


@dataclass
class _Prepared:
    """One source file staged and checked, ready to be written with the rest of its group."""

    tf: TuvaFile
    outcome: FileOutcome
    source: StagedSource | None = None
    sql: _Sql | None = None
    view: str = ""
    rejects: list[Reject] = field(default_factory=list)


def _prepare(
    con: duckdb.DuckDBPyConnection, tf: TuvaFile, mapping: TableMapping, stage_dir: Path, n: int
) -> _Prepared:
    p = _Prepared(tf, FileOutcome(source_file=tf.path.name, table=tf.table))
    lf = LandingFile(path=tf.path, kind=_tuva_kind(mapping), file_format=tf.file_format)
    try:
        if tf.file_format == "parquet":
            p.source = _stage_parquet(con, lf)
        else:
            p.source = stage(con, lf, stage_dir)
        p.sql = _Sql(mapping, p.source)
        for our, sources in p.sql.columns.items():
            if mapping.target.by_name[our].required and not p.sql.present(our):
                raise FileRejected(
                    "missing_column",
                    f"{tf.path.name}: no {' or '.join(sources)} column (needed for {our})",
                    sources[0],
                )
        p.view = f"adapt_flagged_{n}"
        # A view, not a copy: every pass re-reads the staged columns it needs.
        con.execute(f"create or replace temp view {p.view} as select * from {p.sql.flagged()}")
        _check_rows(con, p)
    except (FileRejected, duckdb.Error) as e:
        p.outcome.error = str(e)
    return p


def _check_rows(con: duckdb.DuckDBPyConnection, p: _Prepared) -> None:
    """The file's rejects, and the report of what its written rows lose or rely on."""
    assert p.sql is not None and p.source is not None
    name = p.tf.path.name
    p.rejects = [
        Reject(name, row, column, value, reason)
        for row, column, value, reason in con.execute(
            f"select _row, _column, _value, _reason from {p.view} "
            "where _reason is not null order by _row"
        ).fetchall()
    ]
    p.rejects += [Reject(name, r.row, r.column, None, r.reason) for r in p.source.rejected_lines]
    p.rejects.sort(key=lambda r: r.source_row)
    counted = Counter((r.reason, r.column or "", r.value) for r in p.rejects)
    p.outcome.rejected = [
        ValueCount(column, value, n, reason)
        for (reason, column, value), n in sorted(counted.items(), key=str)
    ]
    _report_values(con, p.sql, _kept(p), p.outcome)
    _column_report(con, p.sql, p.outcome)


def _kept(p: _Prepared) -> str:
    return f"(select * from {p.view} where _reason is null)"


def _write_group(
    con: duckdb.DuckDBPyConnection,
    mapping: TableMapping,
    group: list[_Prepared],
    path: Path,
    rejects: list[Reject],
) -> None:
    """One landing file from a group of source files, whole or not at all: a group with a file
    that could not be read writes nothing (a partial eligibility snapshot would read as
    members leaving), and says so on every file of it."""
    failed = [p.tf.path.name for p in group if p.outcome.error is not None]
    if failed:
        for p in group:
            if p.outcome.error is None:
                p.outcome.error = f"not written: {', '.join(failed)} of the same output failed"
        return
    parts = []
    for i, p in enumerate(group):
        assert p.sql is not None
        select = ", ".join(p.sql.mapped(c) for c in mapping.target.columns)
        parts.append(f"select {i} as _part, _row, {select} from {_kept(p)}")
    columns = ", ".join(ident(c.name) for c in mapping.target.columns)
    union = " union all ".join(parts)
    expected = sum(p.source.rows - len(p.rejects) for p in group if p.source is not None)

    def write(tmp: Path) -> None:
        # DuckDB streams the rows to Parquet in source order, with fixed writer options and
        # no timestamps in the file: the same rows give the same bytes.
        written = con.execute(
            f"copy (select {columns} from ({union}) order by _part, _row) "
            f"to {literal(str(tmp))} (format parquet, compression zstd)"
        ).fetchone()[0]
        if written != expected:
            raise duckdb.InvalidInputException(
                f"{path.name}: wrote {written} rows, expected {expected} (read - rejected)"
            )

    _write_atomically(path, write)
    for p in group:
        assert p.source is not None
        p.outcome.output_file = path.name
        p.outcome.rows_read = p.source.rows
        p.outcome.rows_rejected = len(p.rejects)
        p.outcome.rows_written = p.source.rows - len(p.rejects)
        rejects.extend(p.rejects)


def _release(con: duckdb.DuckDBPyConnection, p: _Prepared) -> None:
    if p.view:
        con.execute(f"drop view if exists {p.view}")
    if p.source is not None:
        for statement in p.source.cleanup:
            con.execute(statement)
        if p.source.staged_file is not None:
            p.source.staged_file.unlink(missing_ok=True)


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Written under a hidden name, then renamed: the ingest never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _rejects_csv(rejects: list[Reject]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["source_file", "source_row", "column", "value", "reason"])
    for r in sorted(rejects, key=lambda r: (r.source_file, r.source_row)):
        writer.writerow([r.source_file, r.source_row, r.column or "", r.value or "", r.reason])
    return out.getvalue()


class AdaptError(Exception):
    """The run cannot start (folders, names): nothing was written."""


def adapt_tuva(
    input_dir: Path,
    landing: Path,
    member_id_from: str = "member_id",
    report_dir: Path | None = None,
) -> AdaptReport:
    """Map every Tuva file of `input_dir` into `landing`; see the module docstring.

    The reject file and the report go to `report_dir` (default `<landing>/.tuva_adapt/`: a
    hidden folder, which the ingest passes over).
    """
    input_dir, landing = Path(input_dir), Path(landing)
    report_dir = Path(report_dir) if report_dir is not None else landing / REPORT_DIR
    if not input_dir.is_dir():
        raise AdaptError(f"input folder not found: {input_dir}")
    if landing.exists() and landing.resolve() == input_dir.resolve():
        raise AdaptError("--landing must not be the input folder (outputs would be re-read)")
    mappings = {name: m.with_member_id_from(member_id_from) for name, m in load_mapping().items()}
    files, ignored = discover(input_dir, tuple(mappings))
    if not files:
        raise AdaptError(
            f"no Tuva input-layer files in {input_dir} (expected medical_claim*.csv/.parquet "
            "or eligibility*.csv/.parquet)"
        )
    groups: dict[str, list[TuvaFile]] = {}
    for tf in files:
        groups.setdefault(output_name(mappings[tf.table], tf), []).append(tf)
    landing.mkdir(parents=True, exist_ok=True)
    report_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    report = AdaptReport(source=f"tuva-health/tuva input layer ({MAPPING_FILE.name})")
    report.ignored = ignored
    rejects: list[Reject] = []
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    try:
        with tempfile.TemporaryDirectory(prefix="adapt_stage_") as stage_dir:
            for out_name, group in groups.items():
                mapping = mappings[group[0].table]
                prepared = [
                    _prepare(con, tf, mapping, Path(stage_dir), len(report.files) + i)
                    for i, tf in enumerate(group)
                ]
                try:
                    _write_group(con, mapping, prepared, landing / out_name, rejects)
                except duckdb.Error as e:
                    for p in prepared:
                        p.outcome.error = str(e)
                finally:
                    for p in prepared:
                        _release(con, p)
                report.files += [p.outcome for p in prepared]
    finally:
        con.close()
    _write_atomically(report_dir / REJECTS_FILE, lambda p: p.write_text(_rejects_csv(rejects)))
    _write_atomically(report_dir / REPORT_FILE, lambda p: p.write_text(report.to_json()))
    return report


def mapping_table_markdown() -> str:
    """The README's mapping table: Tuva column -> our column, per table."""
    lines = []
    for m in load_mapping().values():
        lines += [
            f"`{m.tuva_table}` -> `{m.target.name}_*` (from tuva-health/tuva at `{m.commit[:12]}`)",
            "",
            "| Tuva column | our column | how |",
            "|---|---|---|",
        ]
        for col in m.target.columns:
            if col.name in m.constants:
                lines.append(f"| (none) | {col.name} | always `{m.constants[col.name]}` |")
            elif col.name in m.columns:
                how = "first non-empty" if len(m.columns[col.name]) > 1 else "as delivered"
                vm = m.values.get(col.name)
                if vm is not None:
                    pairs = ", ".join(f"`{k}`->`{v}`" for k, v in vm.mapping.items())
                    other = "row rejected" if vm.unmapped == "reject" else "left empty, reported"
                    how = f"{pairs} (any case); any other value: {other}"
                lines.append(f"| {', '.join(m.columns[col.name])} | {col.name} | {how} |")
            elif col.name in m.empty:
                lines.append(f"| (none) | {col.name} | empty: {m.empty[col.name]} |")
        for prefix, highest in m.numbered.items():
            lines.append(
                f"| {prefix}2 .. {prefix}{highest} | {prefix}N | each N our contract has |"
            )
        for ct in m.code_types:
            lines.append(
                f"| {ct.column} | (checked) | `{ct.accepted}` or empty; any other with "
                f"{ct.codes_prefix}* present: row rejected |"
            )
        for lv in m.lost:
            lines.append(
                f"| {lv.column} | (checked) | {'/'.join(lv.values)} without {lv.unless}: "
                "reported as not mapped |"
            )
        lines.append("")
    return "\n".join(lines)
