"""Opening a project file safely: checks, backup, Alembic migrations, SQLite pragmas.

On open: the file must be SQLite (header check), pass ``PRAGMA integrity_check`` and carry a schema
revision this build knows. An older revision is upgraded in place after a backup copy is written
beside the file (``<name>.<revision>.bak``). Connections run in WAL mode with foreign keys on and a
busy timeout; write transactions start with ``BEGIN IMMEDIATE`` so two processes editing one project
queue up instead of failing half-way (a deferred transaction cannot always upgrade its lock in WAL).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import DatabaseError as SADatabaseError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000
IMMEDIATE = "garment_studio_immediate"  # execution option: start write transactions with BEGIN IMMEDIATE


class StoreError(RuntimeError):
    """The project file cannot be used; the message names the file and what is wrong."""


class StoreVersionError(StoreError):
    """The project file was written by a newer Garment Keypoint Studio."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def known_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in script.walk_revisions()]


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _on_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _on_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN")


def make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _check_file(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read project file {path}: {exc.strerror or exc}") from exc
    if header and header != SQLITE_HEADER:
        raise StoreError(f"{path} is not a Garment Keypoint Studio project (not an SQLite database)")


def _integrity_check(engine: Engine, path: Path) -> None:
    with engine.connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        detail = "; ".join(str(r) for r in rows[:3])
        raise StoreError(f"project file {path} is corrupt (integrity check: {detail})")


def backup_copy(path: Path, revision: str | None) -> Path:
    """A consistent copy through SQLite's online backup API (safe even with WAL pages pending)."""
    target = path.with_name(f"{path.name}.{revision or 'unversioned'}.bak")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{revision or 'unversioned'}.{n}.bak")
        n += 1
    src = sqlite3.connect(str(path))
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_database(path: Path, create: bool) -> tuple[Engine, Path | None]:
    """Open (or create) a project file at the head schema; returns the engine and any backup written."""
    path = Path(path)
    if not path.exists():
        if not create:
            raise StoreError(f"project file {path} does not exist")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create project {path}: folder {path.parent} does not exist")
    else:
        _check_file(path)
    engine = make_engine(path)
    try:
        return engine, _prepare(engine, path)
    except SADatabaseError as exc:
        engine.dispose()
        raise StoreError(f"project file {path} is corrupt or not a database: {exc.orig}") from exc
    except Exception:
        engine.dispose()
        raise


def _prepare(engine: Engine, path: Path) -> Path | None:
    _integrity_check(engine, path)
    revision = current_revision(engine)
    known = known_revisions()
    if revision is not None and revision not in known:
        raise StoreVersionError(
            f"project file {path} uses schema revision {revision!r}, written by a newer Garment Keypoint "
            f"Studio; this version knows up to {head_revision()!r}. Update the application to open it."
        )
    if revision is None:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        if tables:
            raise StoreError(f"{path} is an SQLite database but not a Garment Keypoint Studio project")
    backup = None
    if revision != head_revision():
        if revision is not None:
            backup = backup_copy(path, revision)
        upgrade(engine)
    return backup
