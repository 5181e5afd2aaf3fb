"""The self-test report says which Python packages it ran with (issue 15: reproducible installs), and the lock it
should match pins every package exactly, with hashes. Fast: the helpers only, not the whole self-test."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

from assist.app import self_test

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "lock.txt"


def test_the_report_head_lists_every_installed_package_with_its_version():
    import numpy
    import pytest

    head = self_test.environment()
    packages = head["packages"]
    assert head["assist"] and head["python"] and isinstance(packages, dict)
    # the versions the code runs with, by the names the lock uses (normalised: lower case, dashes)
    assert packages["numpy"] == numpy.__version__ and packages["pytest"] == pytest.__version__
    assert packages["pyside6-essentials"] == version("PySide6_Essentials")
    assert "onnxruntime-gpu" in packages and "assist" in packages
    assert all(name == re.sub(r"[-_.]+", "-", name).lower() for name in packages)
    json.dumps(head)  # what the report writes


def test_a_broken_metadata_folder_is_reported_not_raised(monkeypatch):
    def broken():
        raise OSError("unreadable METADATA")

    monkeypatch.setattr(self_test, "installed_packages", broken)
    assert self_test.environment()["packages"] == "unreadable: OSError: unreadable METADATA"


def test_the_lock_pins_every_package_exactly_with_hashes():
    """requirements/lock.txt (packaging/lock.sh) is what dev.sh, CI and build_deb.sh install with --require-hashes:
    every entry `name==version` with at least one sha256, torch as the local CPU build, pip itself pinned."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text(encoding="utf-8"))
    pins = {}
    for entry in entries[1:]:  # [0] is the header comment
        head = entry.splitlines()[0]
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", head)
        assert match, f"not an exact pin: {head!r}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"no hash: {head!r}"
        pins[match[1]] = match[2]
    assert pins["torch"] == "2.13.0+cpu" and "pip" in pins and "setuptools" in pins and "pyinstaller" in pins
    assert "bash packaging/lock.sh" in entries[0]
