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


# Flask-Limiter keeps what a request's limit checks found on the request context under
# this name, made by the first check (tests/core/test_hot_path.py holds the name).
LIMITER_CONTEXT = "_limiter_request_context"


def skip_idle_limiter_hooks(app: Flask, limiter) -> None:
    """Run Flask-Limiter's after-request hook (conditional deductions, limit headers) and
    its teardown (reset) only in requests that checked a limit.

    Every limit is declared on its view, so most requests (every cached page view and
    toggle) check none, and both hooks then find an empty context they made for
    nothing: about a twentieth of a small request. A request that checked a limit has
    the context, and gets both hooks as before.
    """
    from flask.globals import request_ctx

    def guarded(hook: Callable) -> Callable:
        def run_if_limited(value):
            if hasattr(request_ctx, LIMITER_CONTEXT):
                return hook(value)
            return value

        run_if_limited.__wrapped__ = hook
        return run_if_limited

    def teardown_guarded(hook: Callable) -> Callable:
        def run_if_limited(exc=None):
            if hasattr(request_ctx, LIMITER_CONTEXT):
                hook(exc)

        run_if_limited.__wrapped__ = hook
        return run_if_limited

    def is_limiters(func) -> bool:
        owner = func.args[0] if isinstance(func, functools.partial) and func.args else getattr(func, "__self__", None)
        return owner is limiter

    after = app.after_request_funcs.get(None, [])
    after[:] = [guarded(f) if is_limiters(f) else f for f in after]
    teardown = app.teardown_request_funcs.get(None, [])
    teardown[:] = [teardown_guarded(f) if is_limiters(f) else f for f in teardown]


def skip_compress_when_done(app: Flask, compress) -> None:
    """Skip Flask-Compress's after-request hook for a response it would leave as it is
    (one the render cache built: already gzip, or under the minimum size) and whose
    ``Vary`` already names ``Accept-Encoding`` (the one change the hook would make).
    Everything else goes through the hook as before."""
    hook = compress.after_request
    after = app.after_request_funcs.get(None, [])

    def compress_unless_done(response):
        headers = response.headers
        vary = headers.get("Vary")
        if vary and "accept-encoding" in vary.lower() and not response.is_streamed:
            if "Content-Encoding" in headers:
                return response
            length = response.content_length
            if length is not None and length < app.config["COMPRESS_MIN_SIZE"]:
                return response
        return hook(response)

    compress_unless_done.__wrapped__ = hook
    after[:] = [compress_unless_done if f == hook else f for f in after]
