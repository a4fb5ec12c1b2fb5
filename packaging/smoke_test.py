"""Smoke test of a frozen build: the bundle answers, measures, stores and renders like the source tree.

    .venv/bin/python packaging/smoke_test.py dist/garment-studio/garment-studio

Run from the repository (it needs the source tree to compute the expected numbers). Each check runs
the bundled executable in a scratch HOME, so nothing touches the user's settings or data. Prints one
line per check with its wall time; exits non-zero on the first failure.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLE_IMAGE = "resources/sample/images/01_short_sleeved_shirt.jpg"
SAMPLE_BOARD = "7x5:40:30:DICT_5X5_100"
TOLERANCE_CM = 1e-3  # same code, same libraries: frozen and source results agree to rounding


class SmokeFailure(AssertionError):
    pass


@dataclass
class Check:
    name: str
    seconds: float
    detail: str


def scratch_env(home: Path) -> dict[str, str]:
    """Environment for the bundle: offscreen Qt, and a HOME/XDG/data folder of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GARMENT_STUDIO_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GARMENT_STUDIO_DATA_DIR=str(home / "data"),
        QT_QPA_PLATFORM="offscreen",
    )
    return env


def run_bundle(exe: Path, args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run([str(exe), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SmokeFailure(
            f"`garment-studio {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr[-3000:] or proc.stdout[-3000:]}"
        )
    return proc.stdout, seconds


def run_source(args: list[str]) -> str:
    """The same command in this interpreter (the source tree), for the expected output."""
    from app.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    if code != 0:
        raise SmokeFailure(f"source-tree `garment-studio {' '.join(args)}` exited {code}")
    return out.getvalue()


def write_sample_keypoints(out: Path, image_name: str = Path(SAMPLE_IMAGE).name) -> Path:
    """A DeepFashion2 per-image JSON of the sample image's true landmarks (from the sample's COCO file)."""
    from app.datasets.coco import decode_annotation
    from app.datasets.deepfashion2 import encode_item

    doc = json.loads((ROOT / "resources" / "sample" / "annotations.json").read_text(encoding="utf-8"))
    image_id = next(img["id"] for img in doc["images"] if img["file_name"] == image_name)
    garments = [decode_annotation(a) for a in doc["annotations"] if a["image_id"] == image_id]
    if not garments:
        raise SmokeFailure(f"no annotation for {image_name} in resources/sample/annotations.json")
    items = {f"item{n}": encode_item(g) for n, g in enumerate(garments, start=1)}
    out.write_text(json.dumps(items), encoding="utf-8")
    return out


def measurements(payload: dict) -> list[dict[str, float | None]]:
    return [{name: m.get("cm") for name, m in g["measurements"].items()} for g in payload["garments"]]


def compare_measurements(frozen: dict, source: dict, what: str) -> int:
    got, want = measurements(frozen), measurements(source)
    if [sorted(g) for g in got] != [sorted(g) for g in want]:
        raise SmokeFailure(f"{what}: frozen app measured {got}, source tree {want}")
    count = 0
    for g_got, g_want in zip(got, want, strict=True):
        for name, value in g_want.items():
            other = g_got[name]
            if (value is None) != (other is None) or (value is not None and abs(value - other) > TOLERANCE_CM):
                raise SmokeFailure(f"{what}: {name} is {other} cm frozen, {value} cm from source")
            count += value is not None
    return count


def bundled_model_present() -> bool:
    return (ROOT / "resources" / "models" / "bootstrap" / "model_card.json").is_file()


def smoke(exe: Path, work: Path) -> list[Check]:
    exe, work = Path(exe).resolve(), Path(work)
    env = scratch_env(work / "home")
    checks: list[Check] = []

    from app import __version__

    out, seconds = run_bundle(exe, ["--version"], env)
    if out.strip() != f"garment-studio {__version__}":
        raise SmokeFailure(f"--version printed {out.strip()!r}, expected 'garment-studio {__version__}'")
    checks.append(Check("--version", seconds, out.strip()))

    keypoints = write_sample_keypoints(work / "sample-keypoints.json")
    args = ["measure", SAMPLE_IMAGE, "--charuco", SAMPLE_BOARD, "--keypoints", str(keypoints), "--json"]
    out, seconds = run_bundle(exe, args, env)
    frozen = json.loads(out)
    if frozen["calibration"]["method"] != "charuco":
        raise SmokeFailure(f"measure calibrated with {frozen['calibration']['method']!r}, not the ChArUco board")
    count = compare_measurements(frozen, json.loads(run_source(args)), "measure --keypoints")
    if count == 0:
        raise SmokeFailure("measure --keypoints measured nothing on the sample shirt")
    checks.append(Check("measure --keypoints", seconds, f"{count} POMs, equal to the source tree"))

    if bundled_model_present():
        args = ["measure", SAMPLE_IMAGE, "--charuco", SAMPLE_BOARD, "--json"]
        out, seconds = run_bundle(exe, args, env)
        count = compare_measurements(json.loads(out), json.loads(run_source(args)), "measure (bundled model)")
        checks.append(Check("measure with the bundled model", seconds, f"{count} POMs, equal to the source tree"))

    project = work / "smoke.db"
    run_bundle(exe, ["import", str(project), "resources/sample/images"], env)
    out, seconds = run_bundle(exe, ["info", str(project)], env)
    expected = f"images: {len(list((ROOT / 'resources' / 'sample' / 'images').glob('*.jpg')))} "
    if expected not in out:
        raise SmokeFailure(f"info on the imported project does not say {expected!r}:\n{out}")
    checks.append(Check("import + info (store, migrations)", seconds, expected.strip()))

    shot = work / "first-run.png"
    out, seconds = run_bundle(exe, ["gui", "--screenshot", str(shot), "--size", "1200x760"], env)
    sample_db = work / "home" / "data" / "sample" / "sample.db"
    if not shot.is_file() or shot.stat().st_size < 10_000:
        raise SmokeFailure(f"gui --screenshot did not write a window image to {shot}")
    if not sample_db.is_file():
        raise SmokeFailure(f"first run did not build the sample project at {sample_db}")
    checks.append(Check("gui first run (offscreen screenshot)", seconds, f"{shot.name}, {sample_db.name} built"))
    return checks


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: smoke_test.py PATH/TO/garment-studio", file=sys.stderr)
        return 2
    exe = Path(argv[0])
    if exe.is_dir():  # the bundle folder: its launcher has the same name
        exe = exe / "garment-studio"
    if not exe.is_file() or not os.access(exe, os.X_OK):
        print(f"FAILED: {exe} is not an executable garment-studio bundle (build it with packaging/build.py)",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="garment-studio-smoke-") as tmp:
        try:
            checks = smoke(exe, Path(tmp))
        except SmokeFailure as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    for check in checks:
        print(f"ok  {check.name:<40} {check.seconds:6.2f} s  {check.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
