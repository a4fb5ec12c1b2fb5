"""Suite-wide isolation: no test reads or writes the real user's settings or data folders."""

import pytest


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("GARMENT_STUDIO_DATA_DIR", str(tmp_path / "user-data"))
    try:
        from PySide6.QtCore import QSettings
    except ImportError:  # Qt-free parts of the suite
        yield
        return
    folder = str(tmp_path / "settings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)
    yield
