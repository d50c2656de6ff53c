"""Settings read at start-up (``portal/core/config.py``)."""

from __future__ import annotations

import stat
import threading

from portal.core.config import _instance_secret


def test_the_instance_secret_is_made_once_and_kept_private(tmp_path):
    first = _instance_secret(str(tmp_path))
    assert len(first) >= 40 and _instance_secret(str(tmp_path)) == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no draft left behind


def test_processes_starting_together_read_one_whole_secret(tmp_path):
    """Gunicorn (or test) workers starting at once on a fresh instance: one key, never a half-written one."""
    barrier = threading.Barrier(8)
    secrets: list[str] = []

    def start():
        barrier.wait(timeout=10)
        secrets.append(_instance_secret(str(tmp_path)))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(secrets) == 8 and len(set(secrets)) == 1 and len(secrets[0]) >= 40
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
