"""`python -m pipelines`: the command line (pipelines/cli.py), left without tearing down the
interpreter once it has answered (cli.exit_without_teardown says why)."""

from pipelines.cli import exit_without_teardown, main

exit_without_teardown(main())
