"""The gates that block a night's publication, each with its figure, threshold and remedy.

A wrong list is worse than no list: a care manager acts on it. So a night whose picture is
incomplete or implausible stops before anything is published, and says why in words an
operator can act on. The landing gates judge tonight's landing folder (raw.night_files for
this run, never the ledger's whole history); the tier gate judges tonight's list against the
last publication. Thresholds are [gates] in config/rules.toml. Every evaluation is recorded in
raw.night_gates, which the CLI, the manifest (pipelines.accounting) and the report read.

Messages name files, kinds, tiers and counts, never member ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import duckdb

from pipelines.claim_counts import rows_in_force_count, update_claim_counts
from pipelines.config import GateConfig
from pipelines.measures import TIERS
from pipelines.paths import SQL_DIR
from pipelines.warehouse import RAW_SCHEMA, set_variables, transaction

GATES_SQL = SQL_DIR / "gates"
LANDED = ("loaded", "loaded_with_quarantine", "already_loaded")
TOP_REASONS = 3

NIGHT_GATES_DDL = f"""
create table if not exists {RAW_SCHEMA}.night_gates (
    as_of date,
    run_id varchar not null,
    gate varchar not null,          -- e.g. quarantine_within_limit
    subject varchar,                -- the file, kind or tier judged; null: the whole night
    passed boolean not null,
    figure double,                  -- what was observed (a count or a percent)
    threshold double,               -- the limit it was held to
    message varchar not null,       -- what was found and what to do
    override varchar,               -- a per-run override of the threshold, when given
    recorded_at timestamp not null
)
"""


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    message: str
    subject: str | None = None
    figure: float | None = None
    threshold: float | None = None
    override: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TierOverride:
    """A per-run change to the tier gate from the command line (recorded with the gate)."""

    max_percent: float | None = None
    allow: bool = False

    def describe(self, config: GateConfig) -> str | None:
        if self.allow:
            return "--allow-tier-change"
        if self.max_percent is not None:
            configured = config.max_tier_change_percent
            return f"--max-tier-change {self.max_percent:g} (config {configured:g})"
        return None


def _query(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> list[tuple]:
    set_variables(con, params)
    return con.execute((GATES_SQL / f"{name}.sql").read_text()).fetchall()


def _percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 3) if whole else 0.0


def landing_gates(
    con: duckdb.DuckDBPyConnection, run_id: str, config: GateConfig
) -> list[GateResult]:
    """Every gate on tonight's landing and raw layer; one result per gate that passed, one
    per failing file, kind or figure."""
    entries = _query(con, "tonight_files", {"run_id": run_id})
    files = [dict(zip(_FILE_COLUMNS, row, strict=True)) for row in entries]
    return [
        *_landing_not_empty(files),
        *_no_file_rejected(files),
        *_required_kinds_loaded(con, files, config),
        *_quarantine_within_limit(con, files, config),
        *_claims_members_known(con, config),
    ]


_FILE_COLUMNS = (
    "entry_name",
    "kind",
    "state",
    "reason",
    "message",
    "file_sha256",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
)


def _landing_not_empty(files: list[dict]) -> list[GateResult]:
    landed = [f for f in files if f["state"] != "ignored"]
    if landed:
        return [
            GateResult(
                "landing_not_empty", True, f"{len(landed)} landing files", None, len(landed), 1
            )
        ]
    ignored = [f["entry_name"] for f in files]
    also = f" ({len(ignored)} entries ignored: {', '.join(ignored[:5])})" if ignored else ""
    return [
        GateResult(
            "landing_not_empty",
            False,
            f"the landing folder holds no landing files tonight{also}. Deliver tonight's "
            "files (names start with medical_claims, eligibility, care_management_status; "
            "see docs/contract.md) or check --landing, then rerun.",
            None,
            0,
            1,
        )
    ]


def _no_file_rejected(files: list[dict]) -> list[GateResult]:
    rejected = [f for f in files if f["state"] == "rejected"]
    if not rejected:
        return [GateResult("no_file_rejected", True, "no file rejected tonight", None, 0, 0)]
    return [
        GateResult(
            "no_file_rejected",
            False,
            f"{f['entry_name']} was rejected: {f['message'] or f['reason']}. Deliver a "
            "corrected file (the same name with new content replaces it) or remove it from "
            "the landing folder, then rerun.",
            f["entry_name"],
            1,
            0,
        )
        for f in rejected
    ]


def _required_kinds_loaded(
    con: duckdb.DuckDBPyConnection, files: list[dict], config: GateConfig
) -> list[GateResult]:
    """A required kind needs loaded rows in the raw layer (delivered tonight or in force from
    an earlier night): without eligibility every member would look not enrolled."""
    results = []
    for kind in config.required_kinds:
        rows = rows_in_force_count(con, kind)
        if rows:
            results.append(
                GateResult("required_kinds_loaded", True, f"{kind}: {rows:,} rows", kind, rows, 1)
            )
            continue
        tonight = [f for f in files if f["kind"] == kind]
        found = (
            "tonight: " + "; ".join(f"{f['entry_name']} {f['state']}" for f in tonight)
            if tonight
            else f"no {kind}* file in the landing folder"
        )
        results.append(
            GateResult(
                "required_kinds_loaded",
                False,
                f"required kind {kind} has no loaded rows ({found}). Deliver a valid {kind} "
                "file, then rerun.",
                kind,
                0,
                1,
            )
        )
    return results


def _quarantine_within_limit(
    con: duckdb.DuckDBPyConnection, files: list[dict], config: GateConfig
) -> list[GateResult]:
    limit = config.max_quarantined_percent
    landed = [f for f in files if f["state"] in LANDED and f["rows_read"]]
    over = [f for f in landed if _percent(f["rows_quarantined"], f["rows_read"]) > limit]
    if not over:
        worst = max((_percent(f["rows_quarantined"], f["rows_read"]) for f in landed), default=0)
        return [
            GateResult(
                "quarantine_within_limit",
                True,
                f"every file at most {limit:g}% quarantined (worst {worst:g}%)",
                None,
                worst,
                limit,
            )
        ]
    reasons: dict[str, list[str]] = {}
    for sha, reason, rows in _query(
        con, "quarantine_reasons", {"files": [f["file_sha256"] for f in over]}
    ):
        reasons.setdefault(sha, []).append(f"{reason} ({rows:,})")
    return [
        GateResult(
            "quarantine_within_limit",
            False,
            f"{f['entry_name']}: {f['rows_quarantined']:,} of {f['rows_read']:,} rows "
            f"quarantined ({_percent(f['rows_quarantined'], f['rows_read']):g}%, limit {limit:g}%);"
            f" top reasons: {', '.join(reasons.get(f['file_sha256'], [])[:TOP_REASONS])}. "
            "See raw.quarantine for the rows; deliver a corrected file, or raise "
            "gates.max_quarantined_percent in config/rules.toml if this is expected.",
            f["entry_name"],
            _percent(f["rows_quarantined"], f["rows_read"]),
            limit,
        )
        for f in over
    ]


def _claims_members_known(con: duckdb.DuckDBPyConnection, config: GateConfig) -> list[GateResult]:
    """Every claim line in force against tonight's eligibility, through the counts per member
    kept between nights (pipelines/claim_counts.py says why not tonight's files
    alone); the per-file figures are counted from the lines only to name the files of a
    failing night."""
    limit = config.max_unknown_member_percent
    if not rows_in_force_count(con, "eligibility"):
        return []  # not judged: required_kinds_loaded already blocks a night without it
    update_claim_counts(con)
    [(lines, unknown)] = _query(con, "unknown_member_lines", {})
    share = _percent(unknown, lines)
    if share <= limit:
        return [
            GateResult(
                "claims_members_known",
                True,
                f"{unknown:,} of {lines:,} claim lines ({share:g}%) without eligibility",
                None,
                share,
                limit,
            )
        ]
    by_file = _query(con, "unknown_members", {})
    worst = ", ".join(f"{name} {u:,} of {n:,}" for name, n, u in by_file[:TOP_REASONS] if u)
    return [
        GateResult(
            "claims_members_known",
            False,
            f"{unknown:,} of {lines:,} claim lines ({share:g}%, limit {limit:g}%) reference "
            f"members with no eligibility row (most in: {worst}). Check that the eligibility "
            "extract is complete and from the same plan, or raise "
            "gates.max_unknown_member_percent in config/rules.toml.",
            None,
            share,
            limit,
        )
    ]


def tier_change_gate(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    config: GateConfig,
    override: TierOverride = TierOverride(),
) -> list[GateResult]:
    """Tonight's members per tier against the last publication before this as-of date."""
    limit = config.max_tier_change_percent if override.max_percent is None else override.max_percent
    floor = config.min_tier_change_members
    note = override.describe(config)
    rows = _query(con, "tier_changes", {"as_of": as_of, "tier_order": list(TIERS)})
    if not rows:
        return [
            GateResult(
                "tier_change_within_limit", True, "first publication", None, None, limit, note
            )
        ]
    previous_as_of = rows[0][0]
    results = []
    for _, tier, before, now in rows:
        change = abs(now - before)
        percent = _percent(change, before) if before else (0.0 if not now else 100.0)
        tripped = change >= floor and (before == 0 or percent > limit)
        if tripped and not override.allow:
            results.append(
                GateResult(
                    "tier_change_within_limit",
                    False,
                    f"tier {tier}: {now:,} members tonight against {before:,} on "
                    f"{previous_as_of} ({percent:g}% change; limit {limit:g}% and at least "
                    f"{floor} members). Check tonight's files; if the change is real, rerun "
                    "with --max-tier-change PCT or --allow-tier-change.",
                    tier,
                    percent,
                    limit,
                    note,
                )
            )
        else:
            results.append(
                GateResult(
                    "tier_change_within_limit",
                    True,
                    f"tier {tier}: {before:,} -> {now:,} since {previous_as_of}"
                    + (" (allowed by override)" if tripped else ""),
                    tier,
                    percent,
                    limit,
                    note,
                )
            )
    return results


def record_gates(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date | None,
    run_id: str,
    results: list[GateResult],
) -> None:
    """Store tonight's evaluation of these gates; re-evaluating a gate in the same run (a
    re-execution) replaces its rows."""
    con.execute(NIGHT_GATES_DDL)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with transaction(con):
        con.execute(
            f"delete from {RAW_SCHEMA}.night_gates where run_id = ? and list_contains(?, gate)",
            [run_id, sorted({r.gate for r in results})],
        )
        con.executemany(
            f"insert into {RAW_SCHEMA}.night_gates values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [as_of, run_id, r.gate, r.subject, r.passed, r.figure, r.threshold, r.message,
                 r.override, now]
                for r in results
            ],
        )  # fmt: skip


def failure_text(results: list[GateResult]) -> str:
    """One line per failing gate, for the check's description and the CLI's last lines."""
    return "\n".join(f"gate {r.gate}: {r.message}" for r in results if not r.passed)
