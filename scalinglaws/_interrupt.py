"""Ctrl-C and SIGTERM for the command line: stop within moments, whatever JAX is doing.

Python runs a signal handler only when the main thread returns to the interpreter, and a compiled
XLA computation (a theory solve, a simulation segment) can hold the main thread for minutes. So the
command asks the interpreter to write every signal number to a pipe (`signal.set_wakeup_fd`, done
by the C-level handler at once) and a watcher thread, which runs while XLA has released the GIL,
reads it, calls `cleanup` (which discards staged files and reports what was left) and ends the
process with `os._exit(128 + signal)`. Only the command line installs this, for the duration of a
command; library code never touches signal handling.
"""

import os
import signal
import sys
import threading
from collections.abc import Callable


__all__ = ["InterruptGuard"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _leave_to_the_watcher(signum, frame):
    """The main thread's handler does nothing: the watcher alone cleans up and exits, so the outcome
    does not depend on which thread runs first."""


class InterruptGuard:
    """A context manager: while inside, SIGINT or SIGTERM calls `self.cleanup()` (a function
    returning the message to print) from a watcher thread and exits with `128 + signal`.

    Outside the main thread (where signals cannot be routed) it does nothing."""

    def __init__(self, cleanup: Callable[[], str] | None = None):
        self.cleanup = cleanup or (lambda: "interrupted; nothing was written")
        self._active = False

    def __enter__(self) -> "InterruptGuard":
        if threading.current_thread() is not threading.main_thread():
            return self
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._old_handlers = {signum: signal.getsignal(signum) for signum in _SIGNALS}
        for signum in _SIGNALS:  # a Python-level handler, so that the C handler writes to the pipe
            signal.signal(signum, _leave_to_the_watcher)
        self._thread = threading.Thread(target=self._watch, name="scalinglaws-interrupt", daemon=True)
        self._thread.start()
        self._active = True
        return self

    def _watch(self) -> None:
        while True:
            try:
                data = os.read(self._read, 1)
            except OSError:
                return
            if not data:  # the guard was closed
                return
            if data[0] in _SIGNALS:
                break
        try:
            message = self.cleanup()
        except BaseException as error:  # the process ends now whatever happens
            message = f"interrupted; cleaning up failed: {error}"
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        finally:
            os._exit(128 + data[0])

    def __exit__(self, *exc) -> None:
        if not self._active:
            return
        signal.set_wakeup_fd(self._old_fd)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        os.close(self._write)
        self._thread.join(timeout=5)
        os.close(self._read)
        self._active = False
