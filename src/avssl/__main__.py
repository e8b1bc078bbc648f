"""`python -m avssl` = the `avssl` command (what the Snakemake rules and DVC stages call)."""

import sys

from avssl.cli import main

sys.exit(main())
