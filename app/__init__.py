"""Garment Keypoint Studio application: GUI (app.gui), CLI (app.cli), store (app.store), datasets."""

__version__ = "0.1.0"
