"""`python -m pipelines`: the command line (pipelines/cli.py), left without tearing down the
interpreter once it has answered.

Why: once a run has said what happened, Python's own teardown (finalizing Dagster's, GX's and
SQLAlchemy's module graphs) took another 0.65 s of every run's wall, a fixed cost a user and
the nightly schedule waited for while nothing was left to do. Everything the run writes is
committed, closed and published before `main` returns (the warehouse connections are closed
by their resources, the Dagster instance by its context manager); only the log handlers and
the standard streams still hold text, and they are flushed first.
"""

import logging
import os
import sys

from pipelines.cli import main

code = main()
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
