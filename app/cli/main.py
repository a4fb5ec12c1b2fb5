"""`garment-studio` console entry point.

Each subcommand lives in its own module under ``app.cli.commands`` exposing
``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only to
build the parser; they import heavy dependencies (Qt, onnxruntime, torch) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys

from app import __version__
from app.cli.errors import CliError, fail

# Order is the order shown in --help. "gui" is the default with no subcommand.
COMMANDS = (
    "gui",
    "demo",
    "import",
    "export",
    "info",
    "predict",
    "measure",
    "calibrate",
    "synth",
    "train",
    "eval",
    "bench",
    "models",
)


def _load(name: str):
    module_name = "import_" if name == "import" else name
    return importlib.import_module(f"app.cli.commands.{module_name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="garment-studio",
        description="Garment Keypoint Studio: garment keypoints, corrections and calibrated measurements.",
    )
    parser.add_argument("--version", action="version", version=f"garment-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = _load(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("app.cli.commands"):
                continue  # command not built yet in this checkout
            raise
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or (argv and argv[0].endswith(".db") and not argv[0].startswith("-")):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    args.invocation = "garment-studio " + shlex.join(argv)  # recorded in model cards, whoever calls main()
    try:
        return int(args._run(args) or 0)
    except CliError as exc:
        return fail(str(exc), exc.code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()


def _reader_gone() -> int:
    """The reader of our output went away (`predict DIR | head`): stop quietly, as command-line tools do.
    stdout is pointed at /dev/null so the interpreter's last flush does not hit the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (embedded, captured): nothing to redirect
        pass
    return 128 + 13  # what a shell reports for a tool ended by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
