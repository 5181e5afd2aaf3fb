"""Entry point of the frozen app (PyInstaller): the same ``assist`` command as the installed package."""

import sys

from assist.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
