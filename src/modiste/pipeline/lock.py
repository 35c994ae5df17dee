"""One ingest at a time per data folder: an OS file lock on ``DATA_DIR/ingest.lock``.

Two ingests over one catalog interleave their writes (the same image indexed twice, a unique
key failing mid-stage). :func:`modiste.pipeline.ingest.run_ingest` holds this lock for the whole
run, so the CLI, the API's ingest job and ``modiste index rebuild`` exclude each other whatever
database the catalog uses. ``flock`` is released by the OS when its holder dies, so a killed
ingest never leaves a stale lock to remove by hand. The lock covers the processes of one host
that use the same data folder: hosts that share a PostgreSQL catalog with separate data folders
are not covered (run ingest from one host; see docs/decisions/ingest-and-storage.md).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modiste.config import Settings
from modiste.errors import ModisteError

log = logging.getLogger(__name__)
LOCK_FILE = "ingest.lock"
_POLL_S = 0.1


@dataclass(frozen=True)
class IngestLock:
    """The held lock: ``previous_finished`` is False when the last holder was killed (or this
    is the first run), so temp files it was writing may be left anywhere it writes."""

    previous_finished: bool


class IngestBusyError(ModisteError):
    """Another ingest holds the data folder's lock (its message is safe to show anyone)."""


def lock_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / LOCK_FILE


def holder(settings: Settings) -> str:
    """Who holds (or last held) the lock, in words: "pid 123, since 12:00:01 UTC"."""
    try:
        info = json.loads(lock_path(settings).read_text())
        since = datetime.fromisoformat(info["since"]).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {int(info['pid'])}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):  # not written yet, or by an old version
        return "pid unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _try_lock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def is_held(settings: Settings) -> bool:
    """Whether an ingest holds the lock now (a hint: it may start or end right after)."""
    try:
        import fcntl  # noqa: F401  (POSIX only)
    except ImportError:  # pragma: no cover
        return False
    path = lock_path(settings)
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if not _try_lock(fd):
            return True
        _unlock(fd)
        return False
    finally:
        os.close(fd)


@contextmanager
def ingest_lock(
    settings: Settings,
    *,
    wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[IngestLock]:
    """Hold the data folder's ingest lock; wait at most ``wait_s`` for another holder.

    ``wait_s`` defaults to ``settings.ingest_lock_wait_s``; ``on_wait`` is told once, in words,
    that this run is waiting. The lock file also records whether its last holder finished
    (returned or raised) or was killed, which tells the next one where leftovers may be.

    Raises:
        IngestBusyError: Another ingest still holds the lock after ``wait_s`` seconds.
    """
    try:
        import fcntl  # noqa: F401  (POSIX only)
    except ImportError:  # pragma: no cover - Windows: no flock; run one ingest at a time
        log.warning("no OS file locks on this platform: nothing stops a second ingest")
        yield IngestLock(previous_finished=False)
        return
    wait = settings.ingest_lock_wait_s if wait_s is None else max(0.0, wait_s)
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        told = False
        while not _try_lock(fd):
            left = deadline - time.monotonic()
            if left <= 0:
                raise IngestBusyError(
                    f"another ingest is running on this catalog ({holder(settings)}); "
                    f"gave up after waiting {wait:g} s. Let it finish, or wait longer "
                    "(`modiste ingest --wait SECONDS`, MODISTE_INGEST_LOCK_WAIT_S)"
                )
            if not told and on_wait is not None:
                on_wait(
                    f"another ingest is running on this catalog ({holder(settings)}); "
                    f"waiting up to {wait:g} s for it to finish"
                )
                told = True
            time.sleep(min(_POLL_S, left))
        held = IngestLock(previous_finished=_read_state(fd).get("finished") is True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
        _write_state(fd, {**me, "finished": False})
        try:
            yield held
            _write_state(fd, {**me, "finished": True})
        except BaseException:
            # An exception unwinds every writer's own cleanup; only a kill skips this.
            _write_state(fd, {**me, "finished": True})
            raise
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def _read_state(fd: int) -> dict[str, object]:
    try:
        state = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(fd: int, state: dict[str, object]) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(state).encode(), 0)
