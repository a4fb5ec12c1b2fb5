"""A --pool rendered ahead by several processes holds exactly what on-demand rendering would have cached."""

from __future__ import annotations

import numpy as np

from app.cli.main import main
from app.training.sources import SynthSource
from app.training.synth import SceneConfig, render_scene


def test_prerender_fills_the_pool_with_the_scenes_of_its_seeds(tmp_path):
    config = SceneConfig(random_aspect=True, closeups=0.5)
    pool = SynthSource(5, base_seed=4321, config=config, pool_dir=tmp_path / "pool")
    reported: list[tuple[int, int]] = []
    assert pool.prerender(2, lambda done, total: reported.append((done, total))) == 5
    assert reported[-1] == (5, 5)
    assert len(list((tmp_path / "pool").glob("synth_*.pkl"))) == 5
    assert SynthSource(5, base_seed=4321, config=config, pool_dir=tmp_path / "pool").prerender(2) == 0

    for i in (0, 4):
        image, garments, _ = pool.load(i)
        scene = render_scene(4321 + i, config)
        assert image.shape == scene.image.shape
        assert np.abs(image.astype(int) - scene.image.astype(int)).mean() < 3.0  # the same picture, as JPEG
        assert [g.category_id for g in garments] == [g.category_id for g in scene.garments]
        assert [g.keypoints for g in garments] == [g.keypoints for g in scene.garments]  # floats, exactly


def test_train_refuses_render_procs_without_a_pool(tmp_path, capsys):
    assert main(["train", "--synthetic", "4", "--out", str(tmp_path / "m"), "--render-procs", "2"]) == 2
    assert "--render-procs renders a --pool" in capsys.readouterr().err


def test_train_render_procs_fills_the_pool_before_any_stage(tmp_path, capsys):
    pool = tmp_path / "pool"
    args = ["train", "--synthetic", "3", "--pool", str(pool), "--render-procs", "2", "--export-only",
            "--out", str(tmp_path / "m"), "--val-synthetic", "0"]
    assert main(args) == 0
    assert len(list(pool.glob("synth_*.pkl"))) == 3
    assert f"pool {pool}: 3 scenes rendered, 0 already there" in capsys.readouterr().out
    assert main(args) == 0
    assert f"pool {pool}: 0 scenes rendered, 3 already there" in capsys.readouterr().out
