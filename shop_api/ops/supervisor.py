"""`shop-api serve` with WEB_CONCURRENCY above 1: that many web processes on one port.

Each child is a `shop-api serve --supervised FD`, one whole app (its pool, its outbox relay)
listening with SO_REUSEPORT, so the kernel spreads new connections over the children. The
supervisor holds no socket of its own: once every child has closed its listener after SIGTERM,
new connections are refused, as with one process. Children run in a process group of their own,
so a Ctrl-C or a group-wide SIGTERM (honcho's) reaches them once, from here: a second signal
during aiohttp's shutdown would cut it short.

A child writes one byte to FD once it listens: the supervisor then knows it started. A child
that fails before that, in the first start, stops them all (port taken, database down: the same
one-line failure as one process). Later, a child that dies is started again, after a delay that
doubles while its successors keep dying young.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger("shop_api.serve")

# A child that lived this long was not failing at start: the next one starts at once.
STABLE_SECONDS = 10.0
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
_TICK_SECONDS = 1.0
_STOPPED_BY_US = {0, -signal.SIGTERM}


@dataclass
class _Child:
    slot: int
    process: subprocess.Popen
    ready_fd: int | None  # the pipe's read end, until the child wrote to it or closed it
    started_at: float
    ready: bool = False


class Supervisor:
    """Runs `count` children of `command(ready_fd)` until SIGTERM or SIGINT, then waits for
    them all; `run()` is the exit status."""

    def __init__(self, command: Callable[[int], list[str]], count: int) -> None:
        self._command = command
        self._count = count
        self._children: list[_Child] = []
        self._restarts: dict[int, float] = {}  # slot: when its next child starts
        self._delays: dict[int, float] = {}  # slot: the delay after its next early death
        self._started: set[int] = set()  # slots whose first child came up
        self._stopping = False
        self._status = 0
        self._signals: list[int] = []

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for slot in range(self._count):
                self._start(slot)
            while self._children or (self._restarts and not self._stopping):
                self._wait(wake_read)
                if self._signals and not self._stopping:
                    self._stop(f"signal {signal.Signals(self._signals[0]).name}")
                self._reap()
                self._restart_due()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_wakeup)
            os.close(wake_read)
            os.close(wake_write)
        return self._status

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)  # acted on by the loop, which the wake-up fd wakes

    def _start(self, slot: int) -> None:
        ready_fd, child_fd = os.pipe()
        try:
            process = subprocess.Popen(  # noqa: S603 - our own command
                self._command(child_fd), pass_fds=(child_fd,), process_group=0
            )
        finally:
            os.close(child_fd)
        self._children.append(_Child(slot, process, ready_fd, time.monotonic()))

    def _wait(self, wake_read: int) -> None:
        pipes = {child.ready_fd: child for child in self._children if child.ready_fd is not None}
        timeout = _TICK_SECONDS
        if self._restarts and not self._stopping:
            timeout = max(0.0, min(timeout, min(self._restarts.values()) - time.monotonic()))
        readable, _, _ = select.select([wake_read, *pipes], [], [], timeout)
        for fd in readable:
            if fd == wake_read:
                os.read(wake_read, 512)
                continue
            child = pipes[fd]
            if os.read(fd, 1):
                child.ready = True
                self._came_up(child)
            os.close(fd)  # written once, or closed by a child that died first
            child.ready_fd = None

    def _came_up(self, child: _Child) -> None:
        first = child.slot not in self._started
        self._started.add(child.slot)
        if first and len(self._started) == self._count:
            log.info("%d web processes are serving", self._count)
        elif not first:
            log.info("web process %d (pid %d) is serving again", child.slot, child.process.pid)

    def _reap(self) -> None:
        for child in list(self._children):
            code = child.process.poll()
            if code is None:
                continue
            self._children.remove(child)
            if child.ready_fd is not None:
                os.close(child.ready_fd)
            _forget_metrics_of(child.process.pid)
            if self._stopping:
                if code not in _STOPPED_BY_US:
                    self._status = 1
            elif not child.ready and len(self._started) < self._count:
                log.error("web process %d exited with %s before serving; stopping the others",
                          child.slot, code)
                self._status = 1
                self._stop("a failed start")
            else:
                self._schedule_restart(child, code)

    def _schedule_restart(self, child: _Child, code: int) -> None:
        lived = time.monotonic() - child.started_at
        delay = 0.0
        if lived < STABLE_SECONDS:
            delay = self._delays.get(child.slot, FIRST_RESTART_DELAY)
            self._delays[child.slot] = min(MAX_RESTART_DELAY, delay * 2)
        else:
            self._delays.pop(child.slot, None)
        log.error("web process %d (pid %d) exited with %s after %.0f s; starting another in "
                  "%.0f s", child.slot, child.process.pid, code, lived, delay)
        self._restarts[child.slot] = time.monotonic() + delay

    def _restart_due(self) -> None:
        if self._stopping:
            return
        now = time.monotonic()
        for slot, at in list(self._restarts.items()):
            if at <= now:
                del self._restarts[slot]
                self._start(slot)

    def _stop(self, reason: str) -> None:
        log.info("stopping %d web processes (%s)", len(self._children), reason)
        self._stopping = True
        self._restarts.clear()
        for child in self._children:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)


def child_command(host: str, port: int) -> Callable[[int], list[str]]:
    def command(ready_fd: int) -> list[str]:
        return [sys.executable, "-m", "shop_api.ops.cli", "serve", "--host", host,
                "--port", str(port), "--supervised", str(os.getpid()), str(ready_fd)]

    return command


@contextlib.contextmanager
def metrics_dir() -> Iterator[None]:
    """The directory the children's metrics add up in: PROMETHEUS_MULTIPROC_DIR when set (it
    is the operator's, or `shop-api dev`'s, shared with the workers), else a fresh private
    one, removed when the children are gone."""
    # Its import refuses a directory that is not there, in one line, before any child starts.
    from shop_api.metrics.exposition import MULTIPROC_DIR_ENV

    if os.environ.get(MULTIPROC_DIR_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="shop-api-metrics-")
    os.environ[MULTIPROC_DIR_ENV] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROC_DIR_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def _forget_metrics_of(pid: int) -> None:
    """A child that died without its own cleanup leaves its live gauges in the sums."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid)


def die_with_parent(parent_pid: int) -> None:
    """A child gets SIGTERM (a graceful stop) when the supervisor dies, even by SIGKILL, rather
    than serving on alone. Linux only; elsewhere a child outlives a killed supervisor."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before the call above
        os.kill(os.getpid(), signal.SIGTERM)
