"""Opening a project file safely: checks, backup, Alembic migrations, SQLite pragmas.

On open: the file must be SQLite (header check; an empty file is a project only when creating one),
pass ``PRAGMA integrity_check`` and carry a schema revision this build knows. These checks run on a
read-only connection before the engine (which switches the file to WAL) connects, so a refused file is
left as it was. An older revision is upgraded in place after a backup copy is written beside the file
(``<name>.<revision>.bak``); an upgrade that fails is rolled back and says where that copy is.
Connections run in WAL mode with foreign keys on and a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so two processes editing one project queue up instead of failing half-way (a
deferred transaction cannot always upgrade its lock in WAL).

A project whose file or folder we may not write is opened read-only (SQLite ``mode=ro``; with
``immutable=1`` when the folder is read-only and no write-ahead log is pending, as SQLite could not
create its ``-shm`` index there): reading works, a write transaction raises StoreError naming the
file, and a project that needs a migration is refused (it cannot be migrated in place).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, event
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


def _on_connect_read_only(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # the journal mode is the file's to keep
    cur.close()


def _on_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN")


def _url(path: Path) -> URL:
    # Built, not formatted: in "sqlite:///…" a "?" in a folder or file name starts the query string, and the
    # project would be read and written at the path cut there.
    return URL.create("sqlite", database=str(path))


def make_engine(path: Path, read_only: bool = False, immutable: bool = False, why: str = "") -> Engine:
    """An engine on the project file; read_only: SQLite mode=ro, and write transactions raise StoreError
    (saying ``why`` the file is read-only) before SQLite is asked."""
    if not read_only:
        engine = create_engine(_url(path), connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        return engine
    # a file: URI (percent-encoded by as_uri, so any path works) carries mode=ro; the URL keeps the file
    # pool SQLAlchemy picks for a file database
    uri = Path(path).resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    engine = create_engine(
        _url(path),
        creator=lambda: sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False),
    )
    event.listen(engine, "connect", _on_connect_read_only)

    def refuse_writes(conn) -> None:
        if conn.get_execution_options().get(IMMEDIATE):
            raise StoreError(f"cannot save to project file {path}: {why or 'it was opened read-only'}")
        conn.exec_driver_sql("BEGIN")

    event.listen(engine, "begin", refuse_writes)
    return engine


def _writable(path: Path) -> bool:
    """May this process write the file (or create files in the folder)? Root may write anything except on
    a read-only mount, which os.access reports too."""
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))


def write_problem(path: Path) -> str | None:
    """Why an existing project cannot be written, or None: SQLite needs the file and, in WAL mode, its folder
    (for the -wal and -shm files beside it)."""
    if not _writable(path):
        return "the file is read-only"
    if not _writable(path.parent):
        return f"its folder {path.parent} is not writable"
    return None


def _open_error(path: Path, exc: SADatabaseError | sqlite3.Error, creating: bool, problem: str | None) -> StoreError:
    """A StoreError that says what went wrong: permissions, another program, the disk, or the file itself."""
    orig = getattr(exc, "orig", exc)  # SQLAlchemy wraps the sqlite3 error; the read-only check does not
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    if creating and name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM")):
        return StoreError(f"cannot create project {path}: {orig} (is folder {path.parent} writable?)")
    why = f" ({problem})" if problem else ""
    if name.startswith("SQLITE_READONLY"):
        return StoreError(f"project file {path} is read-only{why}: {orig}")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM")):
        return StoreError(f"cannot open project file {path}{why}: {orig}; check the permissions of the file "
                          "and its folder")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"project file {path} is locked by another program: {orig}")
    if name.startswith(("SQLITE_IOERR", "SQLITE_FULL")):
        return StoreError(f"cannot read or write project file {path}: {orig}")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or not name:
        return StoreError(f"project file {path} is corrupt or not a database: {orig}")
    return StoreError(f"cannot open project file {path}: {orig}")


def _check_file(path: Path, create: bool) -> None:
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read project file {path}: {exc.strerror or exc}") from exc
    if not header and not create:  # SQLite would quietly turn any empty file into a project
        raise StoreError(f"{path} is an empty file, not a Garment Keypoint Studio project")
    if header and header != SQLITE_HEADER:
        raise StoreError(f"{path} is not a Garment Keypoint Studio project (not an SQLite database)")


def _wal_mode(path: Path) -> bool:
    """Does the file's header say WAL (bytes 18 and 19 are 2)?"""
    try:
        with path.open("rb") as fh:
            return fh.read(20)[18:20] == b"\x02\x02"
    except OSError:
        return False


def _inspect(path: Path, create: bool, immutable: bool, tidy: bool) -> str | None:
    """Integrity, schema revision and tables, read through a read-only connection: a file that is refused
    (a newer project, another program's database) must not be switched to WAL or written at all. Returns
    the file's revision (None: no project tables yet, allowed only when creating).

    A read-only reader of a WAL file leaves the -wal and -shm it needs behind; when ``tidy`` (the folder is
    ours to write) and there were none before, a plain connection reads once and closes: SQLite then
    removes them itself if no one else has the file open (deleting them by hand could pull them from
    under another program)."""
    left_by_us = tidy and _wal_mode(path) and not path.with_name(path.name + "-wal").exists()
    uri = Path(path).resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if rows != ["ok"]:
            detail = "; ".join(str(r) for r in rows[:3])
            raise StoreError(f"project file {path} is corrupt (integrity check: {detail})")
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )}
        revision = None
        if "alembic_version" in tables:
            found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if found is None else str(found[0])
    finally:
        conn.close()
        if left_by_us:
            _close_wal(path)
    if revision is not None and revision not in known_revisions():
        raise StoreVersionError(
            f"project file {path} uses schema revision {revision!r}, written by a newer Garment Keypoint "
            f"Studio; this version knows up to {head_revision()!r}. Update the application to open it."
        )
    if revision is None:
        if tables - {"alembic_version"}:
            raise StoreError(f"{path} is an SQLite database but not a Garment Keypoint Studio project")
        if not create:
            raise StoreError(f"{path} is an empty SQLite database, not a Garment Keypoint Studio project")
    return revision


def _close_wal(path: Path) -> None:
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA schema_version").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # only tidying: the files are SQLite's own and harmless


def backup_copy(path: Path, revision: str | None) -> Path:
    """A consistent copy through SQLite's online backup API (safe even with WAL pages pending).

    Written under a temporary name, flushed to disk and then renamed: a kill or a full disk never leaves
    a half-written (or empty) database under the backup's name, where it would pass for the project."""
    target = path.with_name(f"{path.name}.{revision or 'unversioned'}.bak")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{revision or 'unversioned'}.{n}.bak")
        n += 1
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        src = sqlite3.connect(str(path))
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
        _fsync_folder(path.parent)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot write the backup of project file {path} before upgrading it "
                         f"({getattr(exc, 'strerror', None) or exc}); the project was not changed") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return target


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a folder for this and needs nothing."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate with foreign keys off. SQLite alters a table by copying it, dropping the original and renaming
    the copy (Alembic's batch mode); with foreign keys on, that DROP deletes every row referencing the table
    ON DELETE CASCADE (upgrading 0002 → 0003 emptied garments, keypoints and measurements). The references
    are checked before the upgrade is committed; any failure rolls the whole upgrade back."""
    cfg = alembic_config()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection  # a PRAGMA inside a transaction is ignored: before BEGIN
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreError(f"the upgrade to {revision} would leave {len(broken)} broken references "
                                 f"(first: {tuple(broken[0])})")
            conn.commit()
        except BaseException:
            conn.rollback()  # before the PRAGMA below, which a still open transaction would ignore
            raise
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_database(path: Path, create: bool, read_only: bool | None = None) -> tuple[Engine, Path | None]:
    """Open (or create) a project file at the head schema; returns the engine and any backup written.

    read_only None: read-only exactly when the file or its folder cannot be written (then create, which
    means the caller is about to write, is refused); True: read-only whatever the permissions."""
    path = Path(path)
    creating = not path.exists()
    problem = None
    revision = None
    if creating:
        if not create:
            raise StoreError(f"project file {path} does not exist")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create project {path}: folder {path.parent} does not exist")
        if not _writable(path.parent):
            raise StoreError(f"cannot create project {path}: folder {path.parent} is not writable")
        if read_only:
            raise StoreError(f"cannot create project {path} read-only")
    else:
        _check_file(path, create)
        problem = write_problem(path)
        if problem and create:
            raise StoreError(f"cannot save to project file {path}: {problem}")
        if read_only is None:
            read_only = problem is not None
    wal_pending = path.with_name(path.name + "-wal").exists()
    immutable = bool(read_only) and not _writable(path.parent) and not wal_pending
    if not creating:
        try:
            revision = _inspect(path, create, immutable, tidy=not read_only)
        except sqlite3.Error as exc:
            raise _open_error(path, exc, creating, problem) from exc
        if revision != head_revision() and read_only:
            why = f" ({problem})" if problem else ""
            raise StoreError(
                f"project file {path} was written by an older version (schema {revision!r}) and must be "
                f"upgraded to {head_revision()!r}, which cannot be done read-only{why}; make it writable and "
                "open it once"
            )
    if read_only:
        engine = make_engine(path, read_only=True, immutable=immutable, why=problem or "")
    else:
        engine = make_engine(path)
    try:
        return engine, _prepare(engine, path, revision)
    except SADatabaseError as exc:
        engine.dispose()
        raise _open_error(path, exc, creating, problem) from exc
    except Exception:
        engine.dispose()
        raise


def _prepare(engine: Engine, path: Path, revision: str | None) -> Path | None:
    """Bring a checked file (or a new one) to the head schema; returns the backup written, if any."""
    if revision == head_revision():
        with engine.connect() as conn:  # the first connection sets WAL; errors surface here, not on first use
            conn.exec_driver_sql("SELECT 1")
        return None
    if revision is None:  # a new project: nothing to back up, nothing to lose
        upgrade(engine)
        return None
    backup = backup_copy(path, revision)
    try:
        upgrade(engine)
    except Exception as exc:
        detail = exc.orig if isinstance(exc, SADatabaseError) else exc
        raise StoreError(
            f"the upgrade of project file {path} from schema {revision!r} to {head_revision()!r} stopped "
            f"({type(detail).__name__}: {detail}); it was rolled back, and the copy made before it is at "
            f"{backup}"
        ) from exc
    return backup
