"""Failpoints for the fault campaign (tests/test_faults.py).

Inert unless the environment variable ECM_FAILPOINT names the point:
`ECM_FAILPOINT=publish.files_written` kills the process there with SIGKILL, as a power cut or
the OOM killer would; `ECM_FAILPOINT=publish.files_written=sleep:30` pauses there instead (to
hold a run in a known state while another starts). Production never sets the variable.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "ECM_FAILPOINT"


def failpoint(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, action = spec.partition("=")
    if point != name:
        return
    if action.startswith("sleep:"):
        time.sleep(float(action.removeprefix("sleep:")))
        return
    os.kill(os.getpid(), signal.SIGKILL)
