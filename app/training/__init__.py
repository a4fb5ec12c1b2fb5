"""Training code: the only package that imports torch (in its submodules, never here).

The synthetic renderer (``app.training.synth``) needs only NumPy and OpenCV.
"""
