"""The application class: Flask, with the per-request costs that never change paid once.

Flask asks ``ensure_sync`` about every hook and view on every request (ten times for a
cached proposal page), and each answer is ``inspect.iscoroutinefunction``, a few
Python calls deep. The answer for a function never changes, so it is kept per app.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

from flask import Flask

# Hooks, views and handlers are registered once; the bound keeps a stray per-request
# callable (none today) from growing the table without end.
SYNC_CACHE_SIZE = 2048
_CACHEABLE = (types.FunctionType, types.MethodType, functools.partial)


class PortalFlask(Flask):
    """``Flask`` whose ``ensure_sync`` answers from a table after the first time."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sync_callables: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        cache = self._sync_callables
        try:
            return cache[func]
        except KeyError:
            pass
        except TypeError:  # unhashable: ask Flask every time
            return super().ensure_sync(func)
        sync = super().ensure_sync(func)
        if isinstance(func, _CACHEABLE) and len(cache) < SYNC_CACHE_SIZE:
            cache[func] = sync
        return sync
