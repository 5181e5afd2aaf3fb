"""``python -m assist``: the same as the ``assist`` command."""

import sys

from assist.app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
