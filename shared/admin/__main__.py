"""Entry point for `python -m shared.admin`."""

import sys

from shared.admin.cli import main

sys.exit(main(sys.argv[1:]))
