"""Is this Python's environment the lock? Compares the installed distributions with a pip-compile lock file.

    .venv/bin/python packaging/lock_check.py [--strict] [requirements/lock.txt]

Exit 1 when a package the lock pins is missing or at another version. Installed packages the lock does not name
(the editable project itself aside) are listed; with --strict (CI, a fresh clone) they fail the check too.
Stdlib only: it runs before anything else is known to be right.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock_text: str) -> dict[str, str]:
    return {normalise(name): version for name, version in PIN.findall(lock_text)}


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in distributions():  # in sys.path order: the first of a name is the one imported
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalise(name), dist.version)
    return found


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    paths = [a for a in argv if not a.startswith("-")]
    lock = Path(paths[0]) if paths else ROOT / "requirements" / "lock.txt"
    shown = lock.resolve().relative_to(ROOT) if lock.resolve().is_relative_to(ROOT) else lock
    want, have = locked(lock.read_text(encoding="utf-8")), installed()
    project = normalise(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"])
    wrong = [f"{name}=={version} (installed: {have.get(name, 'missing')})"
             for name, version in sorted(want.items()) if have.get(name) != version]
    extra = [f"{name}=={version}" for name, version in sorted(have.items()) if name not in want and name != project]
    for line in wrong:
        print(f"lock_check: not as locked: {line}", file=sys.stderr)
    for line in extra:
        print(f"lock_check: installed but not in {lock.name}: {line}", file=sys.stderr)
    if wrong or (strict and extra):
        print(f"lock_check: this environment is not {shown} (reinstall: rm -rf .venv && bash packaging/dev.sh install)",
              file=sys.stderr)
        return 1
    more = f"; {len(extra)} more not in it" if extra else ""
    print(f"lock_check: the {len(want)} packages of {shown} are installed at their locked versions{more}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
