"""`garment-studio gui`: the desktop application."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.errors import CliError

HELP = "Open the desktop application (optionally on a project file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project", nargs="?",
        help="project file (.db) to open (default: the last one opened; on first run the bundled sample project)",
    )
    parser.add_argument("--new", action="store_true", help="create the project file if it does not exist")
    parser.add_argument(
        "--screenshot", metavar="OUT.png",
        help="open the project on its first image, render the window to OUT.png and exit (works offscreen)",
    )
    parser.add_argument("--no-model", action="store_true", help="do not load the bundled model")
    parser.add_argument("--size", default="1480x900", help="window size for --screenshot, WxH (default 1480x900)")


def run(args: argparse.Namespace) -> int:
    project = args.project
    if project is not None and not args.new and not Path(project).is_file():
        raise CliError(f"project file {project} does not exist (use --new to create it)", 2)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CliError(f"--size {args.size!r} is not WxH, e.g. 1480x900", 2) from None
    if args.screenshot and not args.screenshot.lower().endswith(".png"):
        raise CliError(f"--screenshot {args.screenshot}: the file name must end in .png", 2)

    from app.gui.app import run as run_gui

    return run_gui(project, args.screenshot, create=args.new, load_model=not args.no_model, size=(width, height))
