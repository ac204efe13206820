"""`python -m asana_sync_pipeline`: every sync once, from the command line (`local.cli`)."""

import sys

from .local.cli import main

if __name__ == "__main__":
    sys.exit(main())
