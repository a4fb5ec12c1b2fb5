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
                        help="re-activate the parent of the active version (an unregistered parent: no active "
                        "version, the app's default model)")


def _ap(metrics: dict | None) -> str:
    return "-" if not metrics else f"{metrics['keypoint_AP']:.3f}"


def _pck(metrics: dict | None) -> str:
    return "-" if not metrics else f"{metrics['PCK@0.2']:.3f}"


def table(store) -> str:
    versions = store.list_models()
    if not versions:
        return "no model versions registered: the project uses the bundled model"
    problems = {v.id: store.model_problem(v) for v in versions}
    # Columns as wide as their longest entry: a cut label could make two versions look the same.
    name_w = max(len("name"), *(len(v.name) for v in versions)) + 2
    version_w = max(len("version"), *(len(v.version) for v in versions)) + 2
    lines = [f"   {'id':>3}  {'name':<{name_w}}{'version':<{version_w}}{'parent':>7}{'AP before':>11}{'AP after':>10}"
             f"{'PCK after':>11}  card"]
    for v in versions:
        m = v.metrics
        lines.append(
            f"{'*' if v.active else ' '}  {v.id:>3}  {v.name:<{name_w}}{v.version:<{version_w}}"
            f"{'-' if v.parent_id is None else v.parent_id:>7}{_ap(m.get('held_out_before')):>11}"
            f"{_ap(m.get('held_out_after')):>10}{_pck(m.get('held_out_after')):>11}  {v.card_path}"
            + ("  ! BROKEN" if problems[v.id] else "")
        )
    if not any(v.active for v in versions):
        lines.append("no active version: the project uses the bundled model")
    lines.append("(* active; AP = keypoint AP on the project's held-out images, before/after retraining)")
    lines += [f"! version {i} cannot be used: {problem}" for i, problem in problems.items() if problem]
    return "\n".join(lines)


def _usable(store, version, doing: str) -> None:
    """Switching to a version whose files are gone or altered would break every later prediction."""
    problem = store.model_problem(version)
    if problem is not None:
        raise CliError(f"cannot {doing} version {version.id} ({version.name} {version.version}): {problem}", 2)


def _unregistered_parent(store, active) -> str:
    """What the project uses once a version whose parent is not registered is rolled back."""
    from inference.model_card import ModelCardError, load_card
    from inference.pipeline import bundled_card_path

    try:
        parent = load_card(store.resolve_path(active.card_path), verify_hashes=False).training.get("parent_card")
    except ModelCardError:
        parent = None
    if not isinstance(parent, dict) or "path" not in parent:
        named = active.metrics.get("parent")
        return ("no active version: the project uses the app's default model (the bundled one unless the "
                f"settings name another card); its parent{f' {named}' if named else ''} is not registered here")
    label = f"{parent.get('name', '?')} {parent.get('version', '?')}"
    if Path(parent["path"]).resolve() == bundled_card_path().resolve():
        return f"the bundled model {label} (its parent)"
    return (f"no active version: its parent {label} ({parent['path']}) is not a registered version of this project, "
            "so the project uses the app's default model (the bundled one unless the settings name another card); "
            "use that card with --model CARD")


def run(args: argparse.Namespace) -> int:
    from app.store import ProjectStore, StoreError

    if not args.project.is_file():
        raise CliError(f"project not found: {args.project}", 2)
    try:
        with ProjectStore.open(args.project) as store:
            if args.activate is not None:
                version = store.model_version(args.activate)
                _usable(store, version, "activate")
                store.set_active_model(version.id)
                print(f"active model: version {version.id}")
            elif args.rollback:
                active = store.active_model()
                if active is None:
                    raise CliError(f"{args.project} has no active model version to roll back", 2)
                parent = next((v for v in store.list_models() if v.id == active.parent_id), None)
                if parent is not None:
                    _usable(store, parent, "roll back to")
                    store.set_active_model(parent.id)
                    print(f"rolled back: version {active.id} -> its parent, version {parent.id} "
                          f"({parent.name} {parent.version})")
                else:
                    store.clear_active_model()
                    print(f"rolled back: version {active.id} -> {_unregistered_parent(store, active)}")
            print(table(store))
    except StoreError as exc:
        raise CliError(str(exc), 2) from exc
    return 0
