"""Ingest benchmark: rows, wall seconds, rows/s and peak RSS for one landing folder.

    .venv/bin/python benchmarks/bench_ingest.py LANDING_DIR [--warehouse PATH]
    .venv/bin/python benchmarks/bench_ingest.py --make-rows 40000000 LANDING_DIR  # writes first
    .venv/bin/python benchmarks/bench_ingest.py --split 100 LANDING_DIR  # as 100 claims files

`--make-rows` writes a contract-shaped medical_claims Parquet (and an eligibility file) with
DuckDB, so the benchmark does not wait for the generator. Peak RSS is the process's
ru_maxrss, which includes DuckDB's native memory; process_cpu_s is the whole process's user +
system CPU (generation with --make-rows included), steadier than wall time on a busy machine.

`--split N` re-splits the landing's claims files into N files by `hash(claim_id)` (claim ids
interleaved across files, as a plan's daily deliveries are) in `<landing>_split<N>/`, reused
by later invocations, and ingests that: what a first load of many files costs. `matching_s`
is the night's matching of re-delivered keys (pipelines/ingest/matching.py), timed apart.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.ingest import IngestSettings, ingest_landing, matching, reconcile  # noqa: E402

CLAIMS_SQL = """
copy (
    select
        'C' || lpad((i // 3)::varchar, 10, '0') as claim_id,
        (i % 3 + 1)::integer as claim_line_number,
        'M' || lpad((hash(i // 40) % {members})::varchar, 8, '0') as member_id,
        case when i % 2 = 0 then 'institutional' else 'professional' end as claim_type,
        case when i % 10 = 0 then '7' else '1' end as claim_frequency_code,
        case when i % 10 = 0 then 'C' || lpad((i // 3 + 1)::varchar, 10, '0') end
            as original_claim_id,
        case when i % 2 = 0 then (['111', '131', '211'])[i % 3 + 1] end as bill_type,
        case when i % 2 = 0 then (['0450', '0300', '0250', '0981'])[i % 4 + 1] end
            as revenue_code,
        case when i % 2 = 1 then (['23', '11', '22'])[i % 3 + 1] end as place_of_service,
        (['99284', '99213', '85025', 'G0381'])[i % 4 + 1] as hcpcs_code,
        date '2025-01-01' + (i % 700)::integer as service_from_date,
        date '2025-01-01' + (i % 700)::integer + (i % 3)::integer as service_to_date,
        case when i % 7 = 0 then date '2025-01-01' + (i % 700)::integer end as admission_date,
        case when i % 7 = 0 then date '2025-01-04' + (i % 700)::integer end as discharge_date,
        case when i % 7 = 0 then '1' end as admission_type_code,
        case when i % 7 = 0 then '01' end as discharge_status_code,
        (['J45909', 'I10', 'E119', 'R0789'])[i % 4 + 1] as principal_diagnosis_code,
        case when i % 3 = 0 then 'Z1159' end as diagnosis_code_2,
        case when i % 5 = 0 then 'E785' end as diagnosis_code_3,
        null::varchar as diagnosis_code_4, null::varchar as diagnosis_code_5,
        null::varchar as diagnosis_code_6, null::varchar as diagnosis_code_7,
        null::varchar as diagnosis_code_8, null::varchar as diagnosis_code_9,
        null::varchar as diagnosis_code_10, null::varchar as diagnosis_code_11,
        null::varchar as diagnosis_code_12,
        null::varchar as principal_procedure_code,
        case when i % 2 = 0 then '1234567893' end as facility_npi,
        '1' || lpad((i % 999999999)::varchar, 9, '0') as rendering_npi,
        date '2025-02-01' + (i % 700)::integer as paid_date,
        ((i % 100000) / 100.0)::decimal(18, 2) as paid_amount
    from range({rows}) t(i)
) to '{path}' (format parquet, row_group_size 1000000)
"""

ELIGIBILITY_SQL = """
copy (
    select
        'M' || lpad(i::varchar, 8, '0') as member_id,
        date '2024-01-01' as enrollment_start_date,
        null::date as enrollment_end_date,
        date '1950-01-01' + (i % 25000)::integer as birth_date,
        (['F', 'M', 'U'])[i % 3 + 1] as sex,
        'Los Angeles' as county, 'P1' as plan_code, '1H' as aid_code,
        '1234567893' as pcp_npi, null::date as death_date,
        i % 50 = 0 as in_ecm, false as hospice, false as pace, false as waiver_1915c
    from range({members}) t(i)
) to '{path}' (format parquet)
"""


def make_landing(landing: Path, rows: int, members: int) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(
        CLAIMS_SQL.format(rows=rows, members=members, path=landing / "medical_claims_bench.parquet")
    )
    con.execute(ELIGIBILITY_SQL.format(members=members, path=landing / "eligibility_bench.parquet"))
    con.close()


def split_landing(landing: Path, files: int) -> Path:
    """`landing` with its claim lines re-split into `files` files by hash(claim_id) (other
    files copied), in `<landing>_split<files>/`; reused when a finished one is there."""
    target = landing.with_name(f"{landing.name}_split{files}")
    done = target / ".done"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    claims = sorted(p for p in landing.iterdir() if p.name.startswith("medical_claims"))
    for p in landing.iterdir():
        if p.is_file() and p not in claims:
            shutil.copy2(p, target / p.name)
    parts = target / ".parts"
    con = duckdb.connect()
    con.execute(
        f"copy (select *, hash(claim_id) % {files} as part from read_parquet("
        f"{[str(p) for p in claims]!r})) to '{parts}' (format parquet, partition_by (part))"
    )
    con.close()
    for folder in parts.iterdir():
        part = int(folder.name.split("=")[1])
        for i, f in enumerate(sorted(folder.glob("*.parquet"))):
            os.replace(f, target / f"medical_claims_{part:04d}_{i}.parquet")
    shutil.rmtree(parts)
    done.write_text("")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("landing", type=Path)
    parser.add_argument("--make-rows", type=int, default=0)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--warehouse", type=Path, default=None)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--split", type=int, default=0, help="re-split the claims into N files")
    args = parser.parse_args()

    if args.make_rows:
        started = time.perf_counter()
        make_landing(args.landing, args.make_rows, args.members)
        print(f"wrote {args.make_rows} claim lines in {time.perf_counter() - started:.1f} s")
    landing = split_landing(args.landing, args.split) if args.split else args.landing
    matching_s = 0.0
    match_pending = matching.match_pending

    def timed_matching(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
        nonlocal matching_s
        started = time.perf_counter()
        try:
            return match_pending(con)
        finally:
            matching_s += time.perf_counter() - started

    matching.match_pending = timed_matching  # measured apart, not changed

    with tempfile.TemporaryDirectory() as tmp:
        warehouse = args.warehouse or Path(tmp) / "bench.duckdb"
        con = duckdb.connect(str(warehouse))
        settings = IngestSettings(
            memory_limit=args.memory_limit,
            temp_directory=Path(tmp) / "spill",
            threads=args.threads,
            run_quality=not args.no_quality,
        )
        started = time.perf_counter()
        report = ingest_landing(con, landing, settings)
        wall = time.perf_counter() - started
        started = time.perf_counter()
        problems = reconcile(con)
        reconcile_s = time.perf_counter() - started
        con.close()

    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_rss_gib = usage.ru_maxrss / 1024**2
    # CPU seconds are steadier than wall seconds on a shared machine.
    cpu_s = usage.ru_utime + usage.ru_stime
    for f in report.files:
        quality = "" if f.quality is None else f" quality={'ok' if f.quality.success else 'FAILED'}"
        print(
            f"{f.name}: {f.status} read={f.rows_read} loaded={f.rows_loaded} "
            f"quarantined={f.rows_quarantined} {f.seconds:.1f}s{quality}"
        )
    rows = report.rows_read
    print(
        f"rows={rows} wall_s={wall:.1f} rows_per_s={rows / wall:,.0f} "
        f"peak_rss_gib={peak_rss_gib:.2f} process_cpu_s={cpu_s:.1f} files={len(report.files)} "
        f"matching_s={matching_s:.2f}"
    )
    print(f"reconcile_s={reconcile_s:.1f} problems={problems}")


if __name__ == "__main__":
    main()
