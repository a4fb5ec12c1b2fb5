"""The pipeline's test-time options (ADRs 0005, 0006) as command-line flags, worded alike in every command."""

from __future__ import annotations

import argparse


def add_pipeline_options(parser: argparse.ArgumentParser, default_on: bool) -> None:
    """--flip-test / --orientation-check (and their --no- forms). Commands that do what the app does turn
    them on by default; commands that measure the model itself leave them off, so numbers stay comparable."""
    state = "on" if default_on else "off"
    parser.add_argument(
        "--flip-test",
        action=argparse.BooleanOptionalAction,
        default=default_on,
        help=f"also read each crop mirrored and average the two, as the app does (default: {state})",
    )
    parser.add_argument(
        "--orientation-check",
        action=argparse.BooleanOptionalAction,
        default=default_on,
        help="also read each crop turned by 180° (and by 90°/270° for the card's sideways categories) and keep "
        f"the surest reading, for garments not lying upright, as the app does (default: {state})",
    )


def pipeline_options(args: argparse.Namespace) -> dict[str, bool]:
    """The parsed flags as GarmentPipeline keyword arguments."""
    return {"flip_test": bool(args.flip_test), "orientation_check": bool(args.orientation_check)}
