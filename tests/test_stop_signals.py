"""Stop signals and the waits they get into (recordings/stop_signals.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from recordings.stop_signals import WAIT_SLICE_S, wait_in_slices


def test_a_long_wait_is_made_of_short_ones_for_signal_handlers_to_run_between():
    # On Windows before Python 3.14 a join or an event's wait is not interrupted by a signal: one wait of
    # 29 s held a second Ctrl-C back for all of it.
    never = threading.Event()
    asked: list[float] = []

    def wait(seconds: float) -> bool:
        asked.append(seconds)
        return never.wait(seconds)

    assert not wait_in_slices(wait, never.is_set, 0.5)
    assert len(asked) >= 3 and max(asked) <= WAIT_SLICE_S
    assert sum(asked) == pytest.approx(0.5, abs=0.1)


def test_it_returns_as_soon_as_it_is_done_and_never_waits_for_a_timeout_of_zero():
    done = threading.Event()
    threading.Timer(0.05, done.set).start()
    assert wait_in_slices(done.wait, done.is_set, 10.0)
    asked: list[float] = []
    assert not wait_in_slices(asked.append, lambda: False, 0.0) and not asked


def test_a_thread_and_an_event_are_waited_for_the_same_way():
    from recordings.stop_signals import join_in_slices, wait_for_event_in_slices

    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    assert not join_in_slices(thread, 0.3) and thread.is_alive()
    assert not wait_for_event_in_slices(release, 0.1)
    release.set()
    assert join_in_slices(thread, 5.0) and wait_for_event_in_slices(release, 0.0)


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("program", "heavy_import"), [("training", "torch"), ("recordings", "cv2")])
def test_a_stop_while_a_command_is_imported_is_one_line_and_130(program: str, heavy_import: str):
    """SIGTERM while `python -m training` imports PyTorch (seconds) ended it with a bare 143, Ctrl-C with a
    traceback through torch's imports; now as a stop during its work: one line, 130."""
    sends_sigterm_at_import = (
        "import importlib.abc, os, runpy, signal, sys\n"
        "class AtImport(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name == {heavy_import!r}:\n"
        "            sys.meta_path.remove(self)\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "        return None\n"
        "sys.meta_path.insert(0, AtImport())\n"
        f"sys.argv = [{program!r}, '--help']\n"
        f"runpy.run_module({program!r}, run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", sends_sigterm_at_import], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == f"python -m {program}: interrupted before it started"


def _run_command_on(tmp_path: Path, main_body: str, after: str = "", rank: str | None = None
                    ) -> subprocess.CompletedProcess:
    (tmp_path / "a_command.py").write_text(f"def main():\n{main_body}\n")
    code = ("import os, signal, sys, time\n"
            f"sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]\n"
            "from recordings.stop_signals import run_program\n"
            "status = run_program('python -m a_command', 'a_command')\n"
            f"{after}\n"
            "sys.exit(status)\n")
    env = {key: value for key, value in os.environ.items() if key != "RANK"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=env if rank is None else {**env, "RANK": rank})


@pytest.mark.parametrize("status", [0, 1])
def test_a_stop_after_main_returned_ends_with_its_exit_status(tmp_path: Path, status: int):
    """Everything is written once main has returned: a service manager's SIGTERM then (the job ending as it
    is stopped) made a finished job exit -15, its own status lost. It ends at once, with main's status,
    what was printed flushed (the interpreter's exit, which may hang in workers' clean-up, is not waited
    for)."""
    result = _run_command_on(tmp_path, main_body=f"    print('written', end='')\n    return {status}",
                             after="os.kill(os.getpid(), signal.SIGTERM); time.sleep(30); print('not here')")
    assert (result.returncode, result.stdout, result.stderr) == (status, "written", "")


def test_a_stop_while_the_interpreter_exits_keeps_mains_exit_status(tmp_path: Path):
    """Python puts the signals' defaults back as it exits: a SIGTERM in the last tenths of a second of a
    finished run (its modules torn down) killed it, and a run that ended 1 to be restarted ended -15,
    which systemd counts as clean. Here the stop comes from an object freed late in the exit."""
    late = ("class Late:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        time.sleep(0.2)\n"
            "late = Late()")
    result = _run_command_on(tmp_path, main_body="    print('written', end='')\n    return 1", after=late)
    assert (result.returncode, result.stdout, result.stderr) == (1, "written", "")


def test_a_stop_while_an_exit_hook_hangs_still_ends_the_process(tmp_path: Path):
    """Stops are ignored only once the exit hooks have run: one that hangs (a worker's clean-up) is still
    ended by a stop, with main's status."""
    hook = ("    import atexit, os, signal, time\n"
            "    atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(3), "
            "print('the hook went on')))\n"
            "    return 1")
    result = _run_command_on(tmp_path, main_body=hook)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")


def test_under_torchrun_a_stop_is_said_by_rank_0_alone(tmp_path: Path):
    """Every rank gets the stop; main's own handler speaks for rank 0 only, and so does the launcher."""
    said = [_run_command_on(tmp_path, main_body="    raise KeyboardInterrupt", rank=rank)
            for rank in ("0", "1")]
    assert [(r.returncode, r.stderr) for r in said] == [
        (130, "python -m a_command: interrupted\n"), (130, "")]


def test_a_stop_outside_mains_own_handler_is_said_in_one_line(tmp_path: Path):
    """While main reads its command line (before its own `except KeyboardInterrupt`): a traceback before."""
    result = _run_command_on(tmp_path, main_body="    raise KeyboardInterrupt")
    assert (result.returncode, result.stderr) == (130, "python -m a_command: interrupted\n")


def test_a_user_logging_off_windows_does_not_stop_a_service_s_run(monkeypatch):
    """Windows sends every console process CTRL_LOGOFF_EVENT when any user logs off, and the C runtime
    raises it as SIGBREAK: a run under NSSM stopped at each logoff. A console handler ahead of the C
    runtime's takes that event alone (the Windows API is stood in for here: it needs Windows)."""
    import ctypes

    import recordings.stop_signals as stop_signals

    registered = []

    class Kernel32:
        @staticmethod
        def SetConsoleCtrlHandler(handler, add):  # noqa: N802 - the Windows API's name
            registered.append((handler, add))
            return 1

    monkeypatch.setattr(stop_signals.os, "name", "nt")
    monkeypatch.setattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE, raising=False)
    monkeypatch.setattr(ctypes, "windll", type("WinDLL", (), {"kernel32": Kernel32}), raising=False)
    monkeypatch.setattr(stop_signals, "_console_handlers", [])
    at_exit = []
    monkeypatch.setattr(stop_signals.atexit, "register", lambda *call: at_exit.append(call))
    stop_signals.ignore_logoff()
    ((handler, add),) = registered
    assert add and stop_signals._console_handlers == [handler]  # kept alive: Windows calls it later
    assert at_exit == [(Kernel32.SetConsoleCtrlHandler, handler, False)]  # and taken back as Python exits
    logoff, ctrl_c, ctrl_break, close = 5, 0, 1, 2
    assert handler(logoff) and not any(handler(event) for event in (ctrl_c, ctrl_break, close))
