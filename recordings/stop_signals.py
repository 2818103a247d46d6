"""The signals that stop a command in order, for `python -m live`, `recordings` and `training` alike:
Ctrl-C, a service manager's SIGTERM and, on Windows, Ctrl-Break (a console's other stop, which a service
wrapper may send). Python's defaults end the process at once on the last two, without a word: a recording
unfinished, lines unwritten, a training step's state lost."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *([signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else []))


def interrupt_on_stop_signals(handler: Callable = signal.default_int_handler) -> None:
    """Every stop signal but Ctrl-C's own (which raises KeyboardInterrupt already) to `handler`; by
    default it raises KeyboardInterrupt as Ctrl-C does, so that one `except KeyboardInterrupt` stops in
    order whatever stopped it."""
    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT:
            signal.signal(signum, handler)


def stop_once(signum: int, frame: object) -> None:
    """A stop signal's handler for a long job (training): it ends the run as Ctrl-C does, state kept to
    resume from. Once: a second one (torchrun follows Ctrl-C with SIGTERM to every rank) would cut that
    clean stop short."""
    signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt


EXIT_INTERRUPTED = 130  # as a shell reports a command Ctrl-C ended; the README's service units accept it


def run_program(program: str, module: str, on_stop: Callable = signal.default_int_handler) -> int:
    """`python -m PROGRAM`'s whole run: stop signals to `on_stop` (interrupt_on_stop_signals), then
    `module` imported and its `main()` run; main's exit status. Importing PyTorch or OpenCV takes seconds,
    so a Ctrl-C or a service manager's SIGTERM often comes before `main` has its own handler: it is said in
    one line with the same exit status as a stop during the work, not a traceback or a bare 143 (by
    torchrun's rank 0 alone: every rank gets the stop). Once main has returned, everything is written: a
    stop then ends the process at once with main's status (a finished command did end -15, its status
    lost: systemd takes that for a clean stop, and a run that ended 1 to be restarted was not; the
    interpreter's own exit hooks, its workers' clean-up say, are not waited for), and once those hooks have
    run it is ignored (Python then puts the signals' defaults back as it tears its modules down: a stop in
    those last tenths of a second killed the process, its status lost)."""
    said_once = os.environ.get("RANK", "0") == "0"
    # Registered first, so that it runs after every exit hook registered later (atexit runs them last in,
    # first out): a hook that hangs can still be stopped.
    atexit.register(_ignore_stop_signals)
    # main's return value, once it has returned. One handler throughout, which looks here, rather than
    # another installed after main: a stop in the instant between the two raised KeyboardInterrupt where
    # nothing caught it (a traceback after the work was done).
    returned: list[object] = []

    def stop(signum: int, frame: object) -> None:
        if returned:
            flush_standard_streams()
            os._exit(_exit_status(returned[0]))
        (signal.default_int_handler if signum == signal.SIGINT else on_stop)(signum, frame)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    ignore_logoff()
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        if said_once:
            print(f"{program}: interrupted before it started", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        returned.append(main())
    except KeyboardInterrupt:  # outside main's own handler: while it read the command line, or at its end
        if not returned:
            if said_once:
                print(f"{program}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    return returned[0]


def _exit_status(returned: object) -> int:
    return returned if isinstance(returned, int) else 1


def _ignore_stop_signals() -> None:
    """At the interpreter's exit, its threads joined and the later exit hooks run, before it puts the
    signals' defaults back: a stop can no longer end the exit with anything but its status."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


# Windows' console control event for a user logging off (wincon.h), and the handlers given to Windows for
# it: the callbacks must live as long as the process.
_CTRL_LOGOFF_EVENT = 5
_console_handlers: list[object] = []


def ignore_logoff() -> None:
    """On Windows, a user logging off sends every console process CTRL_LOGOFF_EVENT, which the C runtime
    raises as SIGBREAK: the app run as a service (NSSM gives it a console of its own) stopped, to be
    restarted, each time a nurse logged off. A console handler registered after the C runtime's is called
    before it, and takes that event and nothing else (Ctrl-C, Ctrl-Break, a console closed go on to it).
    An interactive console's programs are ended at logoff whatever they answer, and one that has loaded
    user32 (the Qt window) gets no such event. Elsewhere nothing is done."""
    if os.name != "nt":
        return
    import ctypes
    from ctypes import wintypes

    handler = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)(lambda event: event == _CTRL_LOGOFF_EVENT)
    kernel32 = ctypes.windll.kernel32
    if kernel32.SetConsoleCtrlHandler(handler, True):
        _console_handlers.append(handler)
        # Taken back as Python exits: Windows must not call into an interpreter that is gone.
        atexit.register(kernel32.SetConsoleCtrlHandler, handler, False)


def flush_standard_streams() -> None:
    """Standard output and error flushed as far as they can be (a closed pipe, a closed stream, None):
    before os._exit, which does not flush them."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


WAIT_SLICE_S = 0.2


def wait_in_slices(wait: Callable[[float], object], done: Callable[[], bool], timeout: float) -> bool:
    """`wait(seconds)` (a thread's join, an event's wait) until `done()`, at most `timeout` seconds; whether
    it is done. In slices: Python runs a stop signal's handler between them, and on Windows before Python
    3.14 a join or a lock's wait is not interrupted by signals (a second Ctrl-C waited out a 30 s wait)."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        wait(min(WAIT_SLICE_S, left))
    return True


def join_in_slices(thread: threading.Thread, timeout: float) -> bool:
    """`thread.join(timeout)` in slices (wait_in_slices); whether the thread has ended."""
    return wait_in_slices(thread.join, lambda: not thread.is_alive(), timeout)


def wait_for_event_in_slices(event: threading.Event, timeout: float) -> bool:
    """`event.wait(timeout)` in slices (wait_in_slices); whether it is set."""
    return wait_in_slices(event.wait, event.is_set, timeout)
