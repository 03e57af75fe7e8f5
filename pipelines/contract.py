"""The landing-file contract (../shared/input_contract.md) as data.

One place that the generator, the ingest, the quality suites and the README's contract table
all read, so a column added here is added everywhere.
"""

from __future__ import annotations

import fnmatch
import string
from dataclasses import dataclass, field
from typing import Literal

DType = Literal["string", "integer", "date", "decimal", "boolean"]

# DuckDB types the raw layer stores each contract type as.
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "date": "DATE",
    "decimal": "DECIMAL(18,2)",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    required: bool = False
    # Required only when another column has a value, e.g. bill_type when claim_type is
    # institutional: (column, value).
    required_when: tuple[str, str] | None = None
    # Exact length for codes; `pad_to` left-pads digit strings that lost a leading zero.
    length: int | None = None
    pad_to: int | None = None
    digits_only: bool = False
    allowed: tuple[str, ...] | None = None
    default_from: str | None = None
    notes: str = ""
    # An identifier: a control character (NUL, tab, line break, ...) inside it quarantines
    # the row (control_character); ids are joined on, an invisible byte would split a member.
    identifier: bool = False
    # Normalized before the checks: "icd" strips dots and spaces and upper-cases;
    # "bill_type" upper-cases and drops the optional leading 0 of a 4-character bill type.
    normalize: Literal["icd", "bill_type"] | None = None
    # A regular expression the (normalized) value must match in full (bad_format).
    pattern: str | None = None
    # Dates that mean "no end" (read as empty: open), e.g. 9999-12-31.
    open_end: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowRule:
    """A rule across a row's columns, checked at ingest on every row.

    `condition` is SQL over the row's typed values, each column named in braces; true means
    the row breaks the rule. A "quarantine" rule sends the row to raw.quarantine naming
    `column` and `reason`; a "warn" rule keeps the row and records it in raw.row_warnings
    (a documented data-quality figure). A rule whose columns a file lacks is not checked.
    """

    reason: str
    column: str
    condition: str
    action: Literal["quarantine", "warn"]
    description: str

    @property
    def columns(self) -> list[str]:
        return [name for _, name, _, _ in string.Formatter().parse(self.condition) if name]


@dataclass(frozen=True)
class FileKind:
    name: str
    columns: tuple[Column, ...]
    # Columns that identify a row; a second row with the same key is quarantined.
    key: tuple[str, ...] = ()
    optional: bool = False
    description: str = ""
    rules: tuple[RowRule, ...] = ()
    # A full snapshot: each delivery replaces the previous one (unless marked incremental).
    snapshot: bool = False
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


# End dates that mean "no end": read as empty (open) wherever a column allows them.
OPEN_END_DATES = ("9999-12-31", "9999-12-30", "2999-12-31", "2099-12-31")

_DIAGNOSES = tuple(
    Column(f"diagnosis_code_{i}", "string", normalize="icd", notes="ICD-10-CM")
    for i in range(2, 13)
)
# Secondary procedures: the CMS Planned Readmission Algorithm looks at every procedure.
_PROCEDURES = tuple(
    Column(f"procedure_code_{i}", "string", normalize="icd", notes="ICD-10-PCS")
    for i in range(2, 26)
)

MEDICAL_CLAIMS = FileKind(
    name="medical_claims",
    description="One row per claim line, institutional and professional.",
    key=("claim_id", "claim_line_number"),
    rules=(
        RowRule(
            "to_before_from",
            "service_to_date",
            "{service_to_date} < {service_from_date}",
            "quarantine",
            "service_to_date before service_from_date",
        ),
        RowRule(
            "discharge_before_admission",
            "discharge_date",
            "{discharge_date} < {admission_date}",
            "quarantine",
            "discharge_date before admission_date",
        ),
        RowRule(
            "missing_principal_diagnosis",
            "principal_diagnosis_code",
            "{principal_diagnosis_code} is null",
            "warn",
            "no principal diagnosis: the claim's from another of its lines; a claim with none "
            "still makes its ED visit (not avoidable) or stay (unplanned)",
        ),
    ),
    columns=(
        Column(
            "claim_id", "string", required=True, identifier=True, notes="unique per claim version"
        ),
        Column("claim_line_number", "integer", required=True),
        Column("member_id", "string", required=True, identifier=True),
        Column("claim_type", "string", required=True, allowed=("institutional", "professional")),
        Column(
            "claim_frequency_code",
            "string",
            allowed=("1", "7", "8"),
            notes="1 original (default), 7 replacement, 8 void",
        ),
        Column(
            "original_claim_id",
            "string",
            identifier=True,
            notes="for 7 and 8: the claim replaced or voided",
        ),
        Column(
            "bill_type",
            "string",
            required_when=("claim_type", "institutional"),
            normalize="bill_type",
            pattern="[0-9]{2}[0-9A-Z]",
            notes="UB-04: facility type, classification, frequency (a digit or a letter, "
            "`13I`); a leading 0 (`0111`) is dropped",
        ),
        Column("revenue_code", "string", length=4, pad_to=4, digits_only=True),
        Column(
            "place_of_service",
            "string",
            required_when=("claim_type", "professional"),
            length=2,
            pad_to=2,
            digits_only=True,
        ),
        Column("hcpcs_code", "string", length=5, notes="CPT/HCPCS"),
        Column("service_from_date", "date", required=True),
        Column("service_to_date", "date", default_from="service_from_date"),
        Column("admission_date", "date"),
        Column("discharge_date", "date"),
        Column(
            "admission_type_code",
            "string",
            allowed=("1", "2", "3", "4", "5", "9"),
            notes="UB-04: 1 emergency, 2 urgent, 3 elective, 4 newborn, 5 trauma, 9 unknown",
        ),
        Column("discharge_status_code", "string", length=2, pad_to=2, digits_only=True),
        Column(
            "principal_diagnosis_code",
            "string",
            normalize="icd",
            notes="ICD-10-CM; empty: a warning, the row loads",
        ),
        *_DIAGNOSES,
        Column("principal_procedure_code", "string", normalize="icd", notes="ICD-10-PCS"),
        *_PROCEDURES,
        Column("facility_npi", "string", length=10, digits_only=True),
        Column("rendering_npi", "string", length=10, digits_only=True),
        Column("paid_date", "date", notes="orders claim versions"),
        Column("paid_amount", "decimal"),
    ),
)

ELIGIBILITY = FileKind(
    name="eligibility",
    snapshot=True,
    description="One row per enrollment span.",
    key=("member_id", "enrollment_start_date"),
    rules=(
        RowRule(
            "end_before_start",
            "enrollment_end_date",
            "{enrollment_end_date} < {enrollment_start_date}",
            "quarantine",
            "enrollment_end_date before enrollment_start_date",
        ),
        RowRule(
            "death_before_birth",
            "death_date",
            "{death_date} < {birth_date}",
            "quarantine",
            "death_date before birth_date",
        ),
        RowRule(
            "born_after_enrollment_end",
            "birth_date",
            "{birth_date} > {enrollment_end_date}",
            "quarantine",
            "birth_date after the span ended",
        ),
        RowRule(
            "born_after_enrollment_start",
            "birth_date",
            "{birth_date} >= date_trunc('month', {enrollment_start_date}) + interval 1 month",
            "quarantine",
            "birth_date in a month after the span started (a wrong birth date would make an "
            "adult a child)",
        ),
        RowRule(
            "born_in_enrollment_start_month",
            "birth_date",
            "{birth_date} > {enrollment_start_date}",
            "warn",
            "birth_date after the span started, in its first month (a newborn enrolled from "
            "the month of birth)",
        ),
    ),
    columns=(
        Column("member_id", "string", required=True, identifier=True),
        Column("enrollment_start_date", "date", required=True),
        Column(
            "enrollment_end_date",
            "date",
            open_end=OPEN_END_DATES,
            notes="empty: still enrolled",
        ),
        Column("birth_date", "date", required=True),
        Column("sex", "string", allowed=("F", "M", "U")),
        Column("county", "string"),
        Column("plan_code", "string"),
        Column("aid_code", "string"),
        Column("pcp_npi", "string", length=10, digits_only=True),
        Column("death_date", "date"),
        Column("in_ecm", "boolean"),
        Column("hospice", "boolean"),
        Column("pace", "boolean"),
        Column("waiver_1915c", "boolean", notes="any 1915(c) waiver (MSSP, HCBA, ...)"),
    ),
)

CARE_MANAGEMENT_STATUS = FileKind(
    name="care_management_status",
    description=(
        "Optional. One row per member status; the latest on or before the as-of date applies."
    ),
    key=("member_id", "status_date"),
    optional=True,
    snapshot=True,
    columns=(
        Column("member_id", "string", required=True, identifier=True),
        Column("status", "string", required=True, allowed=("declined", "unreachable")),
        Column("status_date", "date", required=True),
    ),
)

FILE_KINDS: dict[str, FileKind] = {
    k.name: k for k in (MEDICAL_CLAIMS, ELIGIBILITY, CARE_MANAGEMENT_STATUS)
}


# How a landing entry's name is read (docs/contract.md, "Files"). Every entry of the landing
# folder ends the night in one recorded state: loaded, rejected with a reason, or ignored by
# one of these rules. Patterns are shell patterns matched case-insensitively. A rule with
# `any_name` false only applies to names that do not start with a landing kind, so
# `medical_claims_1.txt` is rejected (unsupported format), never ignored.
@dataclass(frozen=True)
class IgnoreRule:
    reason: str
    pattern: str
    why: str
    any_name: bool = False


IGNORE_RULES: tuple[IgnoreRule, ...] = (
    IgnoreRule("hidden", ".*", "a hidden entry (a file being written, the adapter's report)", True),
    IgnoreRule("checksum", "*.sha256", "a checksum beside a delivery", True),
    IgnoreRule("checksum", "*.md5", "a checksum beside a delivery", True),
    IgnoreRule("ground_truth", "truth.parquet", "the synthetic generator's ground truth"),
    IgnoreRule("documentation", "readme*", "notes for people"),
    IgnoreRule("documentation", "*.md", "notes for people"),
    IgnoreRule("documentation", "*.txt", "notes for people"),
    IgnoreRule("documentation", "*.pdf", "notes for people"),
)

# Compressed or archived deliveries the ingest does not open (gzip CSV, `.csv.gz`, is read).
UNSUPPORTED_COMPRESSION: tuple[str, ...] = (
    ".zip",
    ".7z",
    ".rar",
    ".tar",
    ".tgz",
    ".gz",
    ".bz2",
    ".xz",
    ".zst",
    ".lz4",
)


# Why a whole file is rejected (raw.night_files.reason); nothing of a rejected file is loaded
# and the night is blocked until it is corrected or removed.
FILE_REJECTIONS: dict[str, str] = {
    "unknown_kind": "the name does not start with a landing kind",
    "not_a_file": "a folder or other entry that is not a regular file",
    "dangling_link": "a symbolic link to a file that does not exist",
    "no_permission": "the pipeline may not read the file",
    "unsupported_compression": "an archive or compression other than gzip CSV (.zip, .7z, ...)",
    "unsupported_format": "not .csv, .csv.gz or .parquet",
    "corrupt_compression": "a .csv.gz whose gzip stream is truncated or damaged",
    "bad_encoding": "the header row is not UTF-8",
    "wrong_delimiter": "fields separated by a pipe, tab or semicolon instead of a comma",
    "wrong_type": "a Parquet column stored in a type the contract does not convert",
    "missing_column": "a required column is missing",
    "duplicate_column": "a column appears twice",
    "empty_file": "no bytes, or no header row",
    "unreadable_file": "not a readable Parquet or CSV file",
    "load_failed": "the load failed for a reason outside the file; retried next run",
    "changed_during_load": "the file changed while it was loaded; retried next run",
}


def ignore_rule_of(entry_name: str) -> IgnoreRule | None:
    """The documented rule that ignores this entry, or None when it must be accounted for."""
    lower = entry_name.lower()
    has_kind = kind_of(entry_name) is not None
    for rule in IGNORE_RULES:
        if (rule.any_name or not has_kind) and fnmatch.fnmatchcase(lower, rule.pattern):
            return rule
    return None


# A snapshot kind's file whose name holds this word (any case) is incremental: its rows are
# added to the snapshot in force (a repeated key replaces the row) instead of replacing it.
INCREMENTAL_MARK = "incremental"


def is_incremental(kind: FileKind, file_name: str) -> bool:
    return kind.snapshot and INCREMENTAL_MARK in file_name.lower()


def kind_of(file_name: str) -> FileKind | None:
    """A landing file's kind comes from its name prefix, in any case (longest prefix wins):
    `Medical_Claims_part2.csv` is medical_claims."""
    lower = file_name.lower()
    for name in sorted(FILE_KINDS, key=len, reverse=True):
        if lower.startswith(name):
            return FILE_KINDS[name]
    return None
