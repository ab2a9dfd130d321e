"""Fixtures for the local host tests: throwaway app roots with fake function folders, and running servers."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from local_host_testing import AppRoot

from local_host import ServerHandle, serve_in_thread


def _forget_modules_under(root: Path) -> None:
    """Undo the imports of one app root so the next test's roots start clean."""
    resolved = str(root.resolve())
    for name, module in list(sys.modules.items()):
        locations = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", [])]
        if any(str(location).startswith(resolved) for location in locations):
            del sys.modules[name]
    while resolved in sys.path:
        sys.path.remove(resolved)


@pytest.fixture
def app_root(tmp_path: Path) -> Iterator[AppRoot]:
    """An empty app root whose host.json sets routePrefix "" like the project's."""
    root = AppRoot(tmp_path / "app")
    root.path.mkdir()
    root.write_host_json("")
    yield root
    _forget_modules_under(root.path)


def _local_host_threads() -> set[threading.Thread]:
    return {
        thread
        for thread in threading.enumerate()
        if thread.name.startswith(("local_host:", "waitress-")) and thread.is_alive()
    }


@pytest.fixture
def serve(app_root: AppRoot) -> Iterator[Callable[..., ServerHandle]]:
    """Start the real server on a free loopback port; every server is stopped and its threads checked."""
    before = _local_host_threads()
    handles: list[ServerHandle] = []

    def start(**options: Any) -> ServerHandle:
        handle = serve_in_thread(options.pop("root", app_root.path), "127.0.0.1", 0, **options)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()
    deadline = time.monotonic() + 5
    while _local_host_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _local_host_threads() - before, "the local host left threads running"
