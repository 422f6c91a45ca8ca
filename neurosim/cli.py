"""The ``neurosim`` command: a thin layer over the library.

Errors a user can cause print one line on stderr (no traceback) and exit with status 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import __version__
from .errors import NeurosimError


def _cmd_profiles_list(args: argparse.Namespace) -> int:
    from .profiles import DEFAULT_PROFILE, list_profiles, load_profile

    rows = []
    for name in list_profiles():
        p = load_profile(name)
        mark = " (default)" if name == DEFAULT_PROFILE else ""
        rows.append((name + mark, p.device.technology, f"{p.crossbar.rows}x{p.crossbar.cols}",
                     f"{p.device.endurance_cycles:.0e}", p.description))
    widths = [max(len(r[i]) for r in rows + [("name", "tech", "crossbar", "endurance", "")]) for i in range(4)]
    header = ("name", "tech", "crossbar", "endurance", "description")
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    return 0


def _cmd_profiles_show(args: argparse.Namespace) -> int:
    from .profiles import fields_table, load_profile

    p = load_profile(args.name)
    if args.toml:
        print(p.to_toml(), end="")
        return 0
    print(f"{p.name}: {p.description}")
    print(f"source: {p.source}")
    print(f"content hash: {p.content_hash[:16]}")
    rows = fields_table(p)
    w_key = max(len(r[0]) for r in rows)
    w_val = max(len(repr(r[1])) for r in rows)
    w_si = max(len(r[2]) for r in rows)
    for key, value, si, doc in rows:
        shown = value if isinstance(value, str) else repr(value)
        print(f"  {key:<{w_key}}  {shown:<{w_val}}  {si:<{w_si}}  {doc}")
    return 0


def _cmd_profiles_validate(args: argparse.Namespace) -> int:
    from .profiles import load_profile_file

    status = 0
    for path in args.files:
        try:
            p = load_profile_file(path)
        except NeurosimError as exc:
            print(f"invalid: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"ok: {path} (profile {p.name!r}, hash {p.content_hash[:12]})")
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurosim`` command (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="neurosim", description="Simulate edge neuromorphic chips on NVM: "
                                     "writes, energy, lifetime and accuracy of on-chip training.")
    parser.add_argument("--version", action="version", version=f"neurosim-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    profiles = sub.add_parser("profiles", help="list, show and validate hardware profiles")
    psub = profiles.add_subparsers(dest="action", metavar="ACTION")
    psub.required = True
    p_list = psub.add_parser("list", help="list the shipped profiles")
    p_list.set_defaults(func=_cmd_profiles_list)
    p_show = psub.add_parser("show", help="show every key of a profile with units")
    p_show.add_argument("name", help="shipped profile name or path to a .toml file")
    p_show.add_argument("--toml", action="store_true", help="print the profile as TOML (a starting point to edit)")
    p_show.set_defaults(func=_cmd_profiles_show)
    p_val = psub.add_parser("validate", help="check profile files; exit 0 if all are valid, 1 otherwise")
    p_val.add_argument("files", nargs="+", metavar="FILE")
    p_val.set_defaults(func=_cmd_profiles_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurosim`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NeurosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
