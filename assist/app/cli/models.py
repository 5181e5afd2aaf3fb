"""``assist models list | verify | add PATH | remove NAME | manifest``: the models Assist uses, checked against
their manifest (sha256 and size); models the user adds go to the per-user models folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assist.app.cli.common import fail


def cmd_models_list(args: argparse.Namespace) -> int:
    from assist.inference.model_manifest import ManifestError, all_entries, human_size, verify

    try:
        entries = all_entries()
    except ManifestError as exc:
        return fail(str(exc))
    checks = {c.name: c for c in verify(entries, quick=True)}  # sizes only: a listing stays instant
    if args.json:
        print(json.dumps([{**e.to_dict(), "origin": e.origin, "size": e.size, "present": checks[e.name].ok}
                          for e in entries], indent=2, ensure_ascii=False))
        return 0
    width = max(len(e.name) for e in entries)
    for e in entries:
        state = "" if checks[e.name].ok else "  ⚠ " + checks[e.name].problem
        print(f"{e.name:<{width}}  {e.origin:<7}  {e.version or '—':<28}  {human_size(e.size):>9}  {e.licence}{state}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from assist.inference.model_manifest import verify

    checks = verify(quick=args.quick)
    if args.json:
        print(json.dumps([c.to_dict() for c in checks], indent=2, ensure_ascii=False))
    else:
        for c in checks:
            print(("✓ " if c.ok else "⚠ ") + c.message() + (f" ({c.note})" if c.note else ""))
        bad = sum(not c.ok for c in checks)
        how = "sizes" if args.quick else "sha256 and sizes"
        print(f"{len(checks)} models checked ({how}): " + (f"{bad} with problems" if bad else "all as shipped"))
    return 1 if any(not c.ok for c in checks) else 0


def cmd_models_add(args: argparse.Namespace) -> int:
    from assist.inference.model_manifest import ManifestError, human_size
    from assist.inference.user_models import add_user_model, model_folder, usage_hint

    try:
        entry = add_user_model(args.path, kind=args.kind, name=args.name)
    except ManifestError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps({**entry.to_dict(), "folder": str(model_folder(entry))}, indent=2, ensure_ascii=False))
    else:
        print(f"Added {entry.name} ({entry.kind}, {len(entry.files)} files, {human_size(entry.size)}) to "
              f"{model_folder(entry)}. {usage_hint(entry)}")
    return 0


def cmd_models_remove(args: argparse.Namespace) -> int:
    from assist.inference.model_manifest import ManifestError
    from assist.inference.user_models import remove_user_model

    try:
        folder = remove_user_model(args.name)
    except ManifestError as exc:
        return fail(str(exc))
    print(f"Removed {args.name} ({folder}).")
    return 0


def cmd_models_manifest(args: argparse.Namespace) -> int:
    from assist.inference.model_manifest import (
        SHIPPED_MANIFEST,
        ManifestError,
        build_manifest,
        manifest_text,
        write_atomic,
    )

    target = Path(args.output) if args.output else SHIPPED_MANIFEST
    try:
        text = manifest_text(build_manifest())
    except ManifestError as exc:
        return fail(f"cannot build the manifest: {exc}")
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            print(f"{target} is stale: run `assist models manifest --write`.", file=sys.stderr)
            return 1
        print(f"{target} matches the model files.")
    elif args.write:
        write_atomic(target, text)
        print(f"Wrote {target}.")
    else:
        sys.stdout.write(text)
    return 0


def add_model_commands(sub: Any) -> None:
    from assist.inference.user_models import KINDS

    models = sub.add_parser("models", help="list, verify, add or remove models").add_subparsers(
        dest="what", required=True)
    listing = models.add_parser("list", help="every model: version, origin, size, licence")
    check = models.add_parser("verify", help="check every model file against the manifest (exit 1 on a problem)")
    check.add_argument("--quick", action="store_true", help="sizes only, no sha256")
    add = models.add_parser("add", help="copy a model folder into your models folder and record its hashes")
    add.add_argument("path", metavar="PATH", help="the model folder")
    add.add_argument("--name", help="the name to give it (default: the folder's name)")
    add.add_argument("--kind", choices=KINDS, help="what it is (default: recognised from its files)")
    remove = models.add_parser("remove", help="delete a model you added (shipped models stay)")
    remove.add_argument("name", metavar="NAME")
    manifest = models.add_parser("manifest", help="rebuild models/manifest.json from the files (developers)")
    mode = manifest.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write it (default: print it)")
    mode.add_argument("--check", action="store_true", help="exit 1 when the file differs from a fresh build")
    manifest.add_argument("--output", help="another file than models/manifest.json")
    for p in (listing, check, add):
        p.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_models_list)
    check.set_defaults(func=cmd_models_verify)
    add.set_defaults(func=cmd_models_add)
    remove.set_defaults(func=cmd_models_remove)
    manifest.set_defaults(func=cmd_models_manifest)
