"""The run's warehouse connection, held by one run at a time."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from pipelines.warehouse import connect


class WarehouseBusyError(RuntimeError):
    """Another run is writing this warehouse."""


class RunWarehouse(DuckDBResource):
    """DuckDBResource that holds an exclusive lock on `<database>.lock` for the whole run.

    DuckDB itself refuses a second writer only while a connection is open; a run opens and
    closes connections step by step, so two runs could interleave. The lock closes that gap:
    a second run is refused at start with a clear message. The kernel releases the lock when
    the process ends, however it ends (a SIGKILLed run leaves no stale lock behind).

    Under a multiprocess or cluster executor each step takes the lock in its own process, and
    independent steps of one run start together: a step whose own run holds the lock (the run
    id is in `<database>.lock.run`) waits for it instead of failing. Another run is refused.
    """

    _lock_fd: int | None = PrivateAttr(default=None)

    @property
    def lock_path(self) -> Path:
        return Path(f"{self.database}.lock")

    @property
    def run_path(self) -> Path:
        return Path(f"{self.database}.lock.run")

    def _held_by_run(self, run_id: str | None) -> bool:
        try:
            return bool(run_id) and self.run_path.read_text().strip() == run_id
        except FileNotFoundError:
            return False

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Member-level data: the folder and the database are not readable by other users.
        self.lock_path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        os.chmod(self.lock_path.parent, 0o750)
        fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o640)
        run_id = context.run.run_id if context.run else None
        # A holder writes its run id just after it locks: look for ours for a moment.
        deadline = time.monotonic() + 2.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self._held_by_run(run_id):
                    fcntl.flock(fd, fcntl.LOCK_EX)  # a step of this run: wait for it
                    break
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise WarehouseBusyError(
                    f"another run (pid {holder}) is writing the warehouse {self.database}; "
                    "only one run at a time may write it. Wait for it to finish."
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self.run_path.write_text(run_id or "")
        self._lock_fd = fd
        self._restrict(Path(self.database))

    @staticmethod
    def _restrict(database: Path) -> None:
        if not database.exists():
            with connect(database):
                pass  # create it now, so its permissions are set before any row is written
        os.chmod(database, 0o640)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
