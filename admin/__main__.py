"""Entry point for `python -m admin`."""

import sys

from admin.cli import main

sys.exit(main(sys.argv[1:]))
