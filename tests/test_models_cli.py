"""`garment-studio models`: list versions with held-out metrics, activate one, roll back along parents."""

from __future__ import annotations

from retrain_fixtures import fake_card

from app.cli.main import main
from app.store import ProjectStore


def _project(tmp_path):
    path = tmp_path / "p.db"
    fake_card(tmp_path / "models" / "a", version="0.2.0+r1")
    fake_card(tmp_path / "models" / "b", version="0.2.0+r2")
    with ProjectStore.create(path) as store:
        first = store.register_model("bootstrap", "0.2.0+r1", "models/a/model_card.json", metrics={
            "held_out_before": {"keypoint_AP": 0.12, "PCK@0.2": 0.8},
            "held_out_after": {"keypoint_AP": 0.31, "PCK@0.2": 0.9}})
        second = store.register_model("bootstrap", "0.2.0+r2", "models/b/model_card.json", parent_id=first,
                                      active=True)
    return path, first, second


def test_lists_versions_with_metrics_and_the_active_one(tmp_path, capsys):
    path, first, second = _project(tmp_path)
    assert main(["models", str(path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in out.splitlines()[1:3]}
    assert rows[str(second)].startswith("*") and not rows[str(first)].startswith("*")
    assert "0.120" in rows[str(first)] and "0.310" in rows[str(first)] and "models/a/model_card.json" in out


def test_activate_and_rollback_follow_the_parent_chain(tmp_path, capsys):
    path, first, second = _project(tmp_path)
    assert main(["models", str(path), "--rollback"]) == 0
    with ProjectStore.open(path) as store:
        assert store.active_model().id == first
    assert main(["models", str(path), "--rollback"]) == 0
    with ProjectStore.open(path) as store:
        assert store.active_model() is None
    assert main(["models", str(path), "--activate", str(second)]) == 0
    with ProjectStore.open(path) as store:
        assert store.active_model().id == second
    capsys.readouterr()
    assert main(["models", str(tmp_path / "nope.db")]) == 2
    assert "nope.db" in capsys.readouterr().err
