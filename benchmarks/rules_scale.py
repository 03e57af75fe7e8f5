"""Time the rules stage on a large random raw layer (not a test: run by hand).

    .venv/bin/python -m benchmarks.rules_scale --members 1000000 --lines 40000000

The rows are random, not realistic: the point is the models' cost at volume (joins, windows,
the best-window range join), not their answers. The raw layer is generated in DuckDB itself.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from pipelines.config import load_rules
from pipelines.ingest.raw_layer import open_raw_layer, replace_rows
from pipelines.rules.models import build_models

AS_OF = date(2026, 6, 30)


def fill_raw(con: duckdb.DuckDBPyConnection, members: int, lines: int) -> None:
    """The raw layer's Parquet files (raw/ beside the database), built in DuckDB."""
    folder = open_raw_layer(con)
    con.execute(
        """
        create temp table bench_eligibility as
        select
            'M' || lpad(i::varchar, 8, '0') as member_id,
            date '2020-01-01' + (i % 900)::int as enrollment_start_date,
            case when i % 20 = 0 then date '2026-03-31' end as enrollment_end_date,
            date '1950-01-01' + (i % 25000)::int as birth_date,
            'F' as sex,
            'Alameda' as county,
            'P' || (i % 3) as plan_code,
            i % 97 = 0 as in_ecm,
            '0' as _file_sha256, 'bench' as _source_file, i as _source_row
        from range(?) as t(i)
        """,
        [members],
    )
    replace_rows(con, "eligibility", "bench_eligibility", folder)
    claims = lines // 4
    # Claim mix by c % 100: 0-5 ED facility, 6-9 ED professional, 10-11 hospital, 12 SNF,
    # the rest office visits; every 20th claim is later replaced, every 97th voided.
    con.execute(
        """
        create temp table bench_claims as
        select
            c,
            'C' || lpad(c::varchar, 10, '0') as claim_id,
            'M' || lpad((hash(c) % ?)::varchar, 8, '0') as member_id,
            c % 100 as mix,
            date '2025-01-01' + (hash(c * 7) % 560)::int as day,
            (hash(c * 13) % 30)::int as los
        from range(?) as t(c)
        """,
        [members, claims],
    )
    con.execute(
        """
        create temp table bench_lines as
        with versions as (
            select *, claim_id as cid, '1' as freq, null as orig, 0 as paid_shift
            from bench_claims
            union all
            select *, claim_id || 'R', '7', claim_id, 10 from bench_claims where c % 20 = 0
            union all
            select *, claim_id || 'V', '8', claim_id, 20 from bench_claims where c % 97 = 0
        )
        select
            cid as claim_id,
            l as claim_line_number,
            member_id,
            case when mix between 6 and 9 or mix >= 13 then 'professional'
                else 'institutional' end as claim_type,
            freq as claim_frequency_code,
            orig as original_claim_id,
            case when mix <= 5 then '131' when mix <= 11 and mix >= 10 then '111'
                when mix = 12 then '211' end as bill_type,
            case when mix <= 5 and l = 1 then '0450' when mix between 10 and 12 then '0120'
                end as revenue_code,
            case when mix between 6 and 9 then '23' when mix >= 13 then '11'
                end as place_of_service,
            case when mix between 6 and 9 then '99283' when mix >= 13 then '99213'
                end as hcpcs_code,
            day as service_from_date,
            day + los * (mix between 10 and 12)::int as service_to_date,
            case when mix between 10 and 12 then day end as admission_date,
            case when mix between 10 and 12 then day + los end as discharge_date,
            case when mix between 10 and 12 then (1 + c % 3)::varchar end
                as admission_type_code,
            case when mix between 10 and 12 then
                case when c % 7 = 0 then '02' else '01' end end as discharge_status_code,
            (['J069', 'S0990XA', 'I214', 'Z5111', 'R509'])[1 + (c % 5)::int]
                as principal_diagnosis_code,
            case when c % 11 = 0 then '0SRD0J9' end as principal_procedure_code,
            day + 30 + paid_shift as paid_date,
            100.0 as paid_amount,
            '0' as _file_sha256,
            'bench' as _source_file,
            c * 4 + l as _source_row
        from versions, range(1, 5) as t(l)
        """
    )
    replace_rows(con, "medical_claims", "bench_lines", folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=40_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        started = time.perf_counter()
        fill_raw(con, args.members, args.lines)
        lines = con.execute("select count(*) from raw.medical_claims").fetchall()[0][0]
        print(f"raw layer: {lines:,} lines in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        for table, rows, seconds in build_models(con, AS_OF, load_rules()):
            counted = "view" if rows is None else f"{rows:,}"
            print(f"{table:45s} {counted:>12} {seconds:7.2f}s")
        print(f"rules stage: {time.perf_counter() - started:.1f}s")
        con.close()


if __name__ == "__main__":
    main()
