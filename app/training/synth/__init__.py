"""Synthetic garment photos with exact DeepFashion2 landmarks (NumPy + OpenCV only, no torch).

    from app.training.synth import render_scene, SceneConfig
    scene = render_scene(seed, SceneConfig(mode="flatlay"))
    scene.image, scene.garments, scene.mm_per_px, scene.homography
"""

from app.training.synth.scene import (
    MODES,
    SceneConfig,
    SynthScene,
    mirror_scene,
    render_scene,
    render_single_garment,
)

__all__ = ["MODES", "SceneConfig", "SynthScene", "mirror_scene", "render_scene", "render_single_garment"]
