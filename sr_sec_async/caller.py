"""Which application function called ``log_*``: found by walking frames with
``sys._getframe`` (cheap), skipping this library's and asyncio's own frames.

When the event runs in a task started by ``fire_and_forget``, the task has no
application frame beneath it; the caller captured when the task was spawned is
carried in a context variable instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import os
import sys
import threading

__all__ = ["SPAWNER", "UNKNOWN_CALLER", "find_caller"]

UNKNOWN_CALLER = ("unknown", "unknown")

SPAWNER: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "sr_sec_async_spawner", default=UNKNOWN_CALLER
)


def _dir_of(module: object) -> str:
    return os.path.dirname(os.path.abspath(getattr(module, "__file__", "") or "")) + os.sep


_LIBRARY_DIR = _dir_of(sys.modules[__name__.rpartition(".")[0]])
#: Modules shipped in the package that play the application's part.
_APPLICATION_FILES = {os.path.join(_LIBRARY_DIR, "demo.py")}
#: Frames of the event loop or a thread pool: the application chain ends there.
_BOUNDARY_DIRS = (_dir_of(asyncio), _dir_of(concurrent.futures))
_BOUNDARY_FILES = {os.path.abspath(m.__file__ or "") for m in (threading,)}
_SKIPPED_FILES = {os.path.abspath(contextlib.__file__ or "")}

_SKIP = ""  # a frame of this library: look further out
_BOUNDARY = "\0"  # a frame of the loop or a pool: no application frame beyond
_basenames: dict[str, str] = {}


def _classify(filename: str) -> str:
    """The file's basename, or ``_SKIP`` / ``_BOUNDARY``."""
    try:
        return _basenames[filename]
    except KeyError:
        pass
    path = os.path.abspath(filename)
    if path in _APPLICATION_FILES:
        name = os.path.basename(filename)
    elif path.startswith(_LIBRARY_DIR) or path in _SKIPPED_FILES:
        name = _SKIP
    elif path.startswith(_BOUNDARY_DIRS) or path in _BOUNDARY_FILES:
        name = _BOUNDARY
    else:
        name = os.path.basename(filename) or filename
    _basenames[filename] = name
    return name


def find_caller(depth: int = 2) -> tuple[str, str]:
    """``(function, file basename)`` of the nearest application frame; past a
    task or thread boundary, the caller recorded by ``fire_and_forget``."""
    frame = sys._getframe(depth)
    while frame is not None:
        code = frame.f_code
        name = _classify(code.co_filename)
        if name is _BOUNDARY:
            break
        if name:
            return code.co_name, name
        frame = frame.f_back  # type: ignore[assignment]
    return SPAWNER.get()
