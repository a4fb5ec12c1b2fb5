"""Entry script of the frozen build: the same `garment-studio` command as the installed console script."""

import multiprocessing
import sys

from app.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # harmless when nothing spawns; required if anything ever does
    sys.exit(main())
