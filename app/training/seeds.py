"""Seed ranges of the synthetic scenes, kept apart so no scene is ever both trained on and measured on.

Training renders from ``--seed`` (default 0) upwards; a run would need a billion scenes to reach these.
Torch-free, so the ONNX-only evaluation scripts can import it.
"""

VAL_SEED = 1_000_000_000  # validation scenes: render_scene(VAL_SEED + i), never used for training or tuning
TUNE_SEED = 1_500_000_000  # tuning scenes (category weight, orientation check), disjoint from both
