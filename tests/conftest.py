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


# A fresh project and one image in it, for the store tests (a test module's own fixture of the same name wins).
@pytest.fixture
def store(tmp_path):
    from app.store import ProjectStore

    s = ProjectStore.create(tmp_path / "project.db")
    yield s
    s.close()


@pytest.fixture
def image_id(store, tmp_path):
    from test_store_fixtures import write_png

    return store.add_image(write_png(tmp_path / "img" / "a.png", 64, 48)).image_id
