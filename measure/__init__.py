"""Qt-free measurement core: table-plane calibration (OpenCV) and points of measure (Shapely).

- ``measure.boards`` / ``measure.detect``: calibration targets and their detection -> ``Calibration``
- ``measure.calibration``: the image -> table-mm mapping, JSON-safe ``to_dict``/``from_dict``
- ``measure.poms`` / ``measure.measurements``: POM definitions (resources/poms) and their computation in mm
- ``measure.spec``: spec sheets (CSV) and pass/fail; ``measure.printable``: boards at true size (PNG/PDF)
- ``measure.scene``: rendered test scenes with known geometry; ``measure.evaluate``: per-POM error report
"""
