"""Loss-free ingest of landing files into the DuckDB raw layer (see load.py)."""

from pipelines.ingest.ledger import reconcile
from pipelines.ingest.load import IngestSettings, ingest_landing
from pipelines.ingest.report import FileResult, IngestReport, SkippedFile

__all__ = [
    "FileResult",
    "IngestReport",
    "IngestSettings",
    "SkippedFile",
    "ingest_landing",
    "reconcile",
]
