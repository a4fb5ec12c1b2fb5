"""`garment-studio models PROJECT.db`: the project's model versions; activate one or roll back."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.errors import CliError

HELP = "List a project's model versions with held-out metrics; --activate ID or --rollback to its parent."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT_DB")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--activate", type=int, metavar="ID", help="make this version the project's model")
    action.add_argument("--rollback", action="store_true",
                        help="re-activate the parent of the active version (none left: the bundled model)")


def _ap(metrics: dict | None) -> str:
    return "-" if not metrics else f"{metrics['keypoint_AP']:.3f}"


def _pck(metrics: dict | None) -> str:
    return "-" if not metrics else f"{metrics['PCK@0.2']:.3f}"


def table(store) -> str:
    versions = store.list_models()
    if not versions:
        return "no model versions registered: the project uses the bundled model"
    lines = [f"   {'id':>3}  {'name':<18}{'version':<16}{'parent':>7}{'AP before':>11}{'AP after':>10}"
             f"{'PCK after':>11}  card"]
    for v in versions:
        m = v.metrics
        lines.append(
            f"{'*' if v.active else ' '}  {v.id:>3}  {v.name[:17]:<18}{v.version[:15]:<16}"
            f"{'-' if v.parent_id is None else v.parent_id:>7}{_ap(m.get('held_out_before')):>11}"
            f"{_ap(m.get('held_out_after')):>10}{_pck(m.get('held_out_after')):>11}  {v.card_path}"
        )
    if not any(v.active for v in versions):
        lines.append("no active version: the project uses the bundled model")
    lines.append("(* active; AP = keypoint AP on the project's held-out images, before/after retraining)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from app.store import ProjectStore, StoreError

    if not args.project.is_file():
        raise CliError(f"project not found: {args.project}", 2)
    try:
        with ProjectStore.open(args.project) as store:
            if args.activate is not None:
                store.set_active_model(args.activate)
                print(f"active model: version {args.activate}")
            elif args.rollback:
                active = store.active_model()
                if active is None:
                    raise CliError(f"{args.project} has no active model version to roll back", 2)
                if active.parent_id is not None and any(v.id == active.parent_id for v in store.list_models()):
                    store.set_active_model(active.parent_id)
                    print(f"rolled back: version {active.id} -> its parent {active.parent_id}")
                else:
                    store.clear_active_model()
                    print(f"rolled back: version {active.id} -> the bundled model (its parent)")
            print(table(store))
    except StoreError as exc:
        raise CliError(str(exc), 2) from exc
    return 0
