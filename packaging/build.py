"""Build the one-folder frozen app (no torch) with PyInstaller and report its size.

    .venv/bin/python packaging/build.py                  # → dist/garment-studio/garment-studio
    .venv/bin/python packaging/build.py --dist /tmp/d --work /tmp/w

Installs PyInstaller into the running interpreter's environment if it is missing, refuses to
finish if torch ended up in the bundle, and prints the bundle size and the build time.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "garment-studio.spec"
APP_NAME = "garment-studio"
# Anything whose name starts with one of these inside the bundle means the excludes failed.
FORBIDDEN_IN_BUNDLE = ("torch", "libtorch", "onnx/", "triton")


def ensure_pyinstaller() -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        print("PyInstaller is missing: installing it into this environment", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyinstaller"], check=True)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def forbidden_files(bundle: Path) -> list[str]:
    internal = bundle / "_internal"
    found = []
    for path in internal.iterdir() if internal.is_dir() else ():
        name = path.name + ("/" if path.is_dir() else "")
        if name.startswith(FORBIDDEN_IN_BUNDLE):
            found.append(name)
    return found


def build(dist: Path, work: Path, quiet: bool = True) -> Path:
    """Run PyInstaller on the spec; returns the bundle folder (dist/garment-studio)."""
    ensure_pyinstaller()
    cmd = [
        sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--clean",
        "--distpath", str(dist), "--workpath", str(work),
        "--log-level", "WARN" if quiet else "INFO",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
    bundle = dist / APP_NAME
    if not (bundle / APP_NAME).is_file():
        raise SystemExit(f"build finished but {bundle / APP_NAME} is missing")
    bad = forbidden_files(bundle)
    if bad:
        raise SystemExit(f"the bundle contains excluded training packages: {', '.join(bad)}")
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller work folder (default build/)")
    parser.add_argument("--verbose", action="store_true", help="PyInstaller INFO log instead of warnings only")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    bundle = build(args.dist.resolve(), args.work.resolve(), quiet=not args.verbose)
    seconds = time.perf_counter() - start
    size_mb = folder_size(bundle) / 1e6
    print(f"bundle: {bundle}")
    print(f"bundle size: {size_mb:.0f} MB ({sum(1 for _ in bundle.rglob('*'))} files)")
    print(f"build time: {seconds:.0f} s")
    print(f"run it: {bundle / APP_NAME} --version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
