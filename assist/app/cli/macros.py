"""``assist macros list | show | add | remove | import | export``: the reply bank from the command line.

The bank is the user's ``macros.json`` (seeded from the starter macros on first use) unless ``--bank FILE``
names another; a named file that does not exist yet is an empty bank, created on the first change.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assist.app.cli.common import fail
from assist.replies.macros.bank import Macro, MacroBank, MacroError


def _open_bank(args: argparse.Namespace) -> MacroBank:
    """The bank named by ``--bank``, else the user's (raises MacroError when it is unreadable)."""
    if args.bank is not None:
        return MacroBank(args.bank)
    return MacroBank.open_user_bank()


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _braced(names: tuple[str, ...]) -> str:
    return ", ".join("{" + name + "}" for name in names)


def macro_dict(macro: Macro) -> dict[str, Any]:
    """A macro as JSON, with the placeholders it uses and those Assist does not know."""
    return {**asdict(macro), "placeholders": list(macro.placeholders),
            "unknown_placeholders": list(macro.unknown_placeholders)}


def macro_line(macro: Macro) -> str:
    """One line for ``assist macros list``; unknown placeholders are marked ``(unknown)``."""
    parts = [macro.id, macro.title]
    if macro.team:
        parts.append(f"team: {macro.team}")
    parts.append(f"intents: {', '.join(macro.intents) or '-'}")
    marked = [("{" + p + "}") + (" (unknown)" if p in macro.unknown_placeholders else "")
              for p in macro.placeholders]
    parts.append(f"placeholders: {', '.join(marked) or '-'}")
    return "  ".join(parts)


def cmd_macros_list(args: argparse.Namespace) -> int:
    try:
        bank = _open_bank(args)
    except MacroError as exc:
        return fail(str(exc))
    macros = bank.macros if args.team is None else bank.for_team(args.team)
    if args.json:
        print(json.dumps({"bank": str(bank.path), "macros": [macro_dict(m) for m in macros]},
                         indent=2, ensure_ascii=False))
        return 0
    if not macros:
        where = f" for team {args.team}" if args.team is not None else ""
        print(f"No macros{where} in {bank.path}. Add some with: assist macros add / assist macros import CSV")
        return 0
    for macro in macros:
        print(macro_line(macro))
    unknown = sum(1 for m in macros if m.unknown_placeholders)
    note = f"; placeholders Assist cannot fill in {_count(unknown, 'macro')} (marked unknown)" if unknown else ""
    print(f"{_count(len(macros), 'macro')} in {bank.path}{note}")
    return 0


def cmd_macros_show(args: argparse.Namespace) -> int:
    try:
        macro = _open_bank(args).get(args.id)
    except MacroError as exc:
        return fail(str(exc))
    if macro is None:
        return fail(f"no macro with id {args.id} (see 'assist macros list')")
    if args.json:
        print(json.dumps(macro_dict(macro), indent=2, ensure_ascii=False))
        return 0
    print(f"# {macro.title}\nid: {macro.id}")
    for label, value in (("team", macro.team), ("intents", ", ".join(macro.intents)),
                         ("tags", ", ".join(macro.tags)), ("created by", macro.created_by),
                         ("placeholders", _braced(macro.placeholders)),
                         ("unknown placeholders", _braced(macro.unknown_placeholders))):
        if value:
            print(f"{label}: {value}")
    print(f"\n{macro.text}")
    return 0


def cmd_macros_add(args: argparse.Namespace) -> int:
    from assist.replies.macros.bank import make_macro

    try:
        bank = _open_bank(args)
        macro = bank.add(make_macro(args.title, args.text, args.intents, args.tags, args.team, args.created_by))
    except MacroError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot save the reply bank: {exc.strerror or exc}")
    if macro.unknown_placeholders:
        print(f"note: {_braced(macro.unknown_placeholders)} is not a placeholder Assist fills; the agent fills it in",
              file=sys.stderr)
    print(f"added {macro.id}: {macro.title}")
    return 0


def cmd_macros_remove(args: argparse.Namespace) -> int:
    try:
        bank = _open_bank(args)
        title = bank.get(args.id).title if args.id in bank else ""
        bank.delete(args.id)
    except MacroError as exc:
        return fail(f"{exc} (see 'assist macros list')")
    except OSError as exc:
        return fail(f"cannot save the reply bank: {exc.strerror or exc}")
    print(f"removed {args.id}: {title}")
    return 0


def cmd_macros_import(args: argparse.Namespace) -> int:
    try:
        bank = _open_bank(args)
    except MacroError as exc:
        return fail(str(exc))
    report = bank.import_csv(args.csv, strict=args.strict, created_by=args.created_by)
    if args.json:
        print(json.dumps({**asdict(report), "bank": str(bank.path), "macros": len(bank)}, indent=2,
                         ensure_ascii=False))
    if not report.ok:
        fail(f"nothing imported from {args.csv}; the reply bank is unchanged:")
    if not args.json or not report.ok:
        for line in report.problems:
            print(f"  - {line}", file=sys.stderr)
        for line in report.warnings:
            print(f"  ! {line}", file=sys.stderr)
    if not report.ok:
        return 2
    if not args.json:
        print(f"imported {_count(report.added, 'macro')} from {args.csv} ({_count(report.duplicates, 'repeat')} and "
              f"{_count(report.skipped, 'malformed row')} skipped; {_count(len(bank), 'macro')} in {bank.path})")
    return 0


def cmd_macros_export(args: argparse.Namespace) -> int:
    try:
        count = _open_bank(args).export_csv(args.csv, team=args.team)
    except MacroError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {args.csv}: {exc.strerror or exc}")
    print(f"exported {_count(count, 'macro')} to {args.csv}")
    return 0


def add_macro_commands(sub: Any) -> None:
    """The ``macros`` command group on the top-level subparsers."""
    macros = sub.add_parser("macros", help="the reply bank (canned replies with placeholders)")
    group = macros.add_subparsers(dest="what", required=True)

    def bank_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bank", type=Path, metavar="FILE",
                       help="reply-bank JSON file (default: macros.json in Assist's data folder)")

    ls = group.add_parser("list", help="the macros, with their intents and placeholders")
    ls.add_argument("--team", help="only macros for everyone and for this team")
    ls.add_argument("--json", action="store_true", help="print JSON")
    bank_option(ls)
    ls.set_defaults(func=cmd_macros_list)

    show = group.add_parser("show", help="one macro (id from 'assist macros list')")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="print JSON")
    bank_option(show)
    show.set_defaults(func=cmd_macros_show)

    add = group.add_parser("add", help="add a macro")
    add.add_argument("--title", required=True)
    add.add_argument("--text", required=True, help="the reply; placeholders in braces, e.g. {order_id}")
    add.add_argument("--intents", default="", help="intent labels it answers, e.g. get_refund,track_refund")
    add.add_argument("--tags", default="", help="tags, comma-separated")
    add.add_argument("--team", default="", help="the team it belongs to (default: everyone)")
    add.add_argument("--created-by", default="", metavar="NAME")
    bank_option(add)
    add.set_defaults(func=cmd_macros_add)

    remove = group.add_parser("remove", help="delete a macro (id from 'assist macros list')")
    remove.add_argument("id")
    bank_option(remove)
    remove.set_defaults(func=cmd_macros_remove)

    imp = group.add_parser("import", help="add the macros in a CSV (title,text[,intents,tags,team,id,created_by]); "
                                          "a file that fails changes nothing")
    imp.add_argument("csv", type=Path, metavar="CSV")
    imp.add_argument("--strict", action="store_true", help="any malformed row fails the whole file")
    imp.add_argument("--created-by", default="", metavar="NAME", help="for rows without a created_by column")
    imp.add_argument("--json", action="store_true", help="print the import report as JSON")
    bank_option(imp)
    imp.set_defaults(func=cmd_macros_import)

    export = group.add_parser("export", help="write the macros as UTF-8 CSV (every column)")
    export.add_argument("csv", type=Path, metavar="CSV")
    export.add_argument("--team", help="only macros for everyone and for this team")
    bank_option(export)
    export.set_defaults(func=cmd_macros_export)
