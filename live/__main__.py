"""`python -m live`: see live/app.py for the options (`python -m live --help`)."""

import logging
import signal
import sys

from recordings.stop_signals import flush_standard_streams, run_program

if hasattr(signal, "SIGHUP"):
    # logrotate's SIGHUP during a service's restart must not kill it (its files are not open yet); a
    # window whose terminal closed while it starts ends as on Ctrl-C. main() installs the same again.
    headless = "--headless" in sys.argv[1:]
    signal.signal(signal.SIGHUP, signal.SIG_IGN if headless else signal.default_int_handler)
status = run_program("python -m live", "live.app")
app = sys.modules.get("live.app")  # None where a stop came while it was still being imported
if app is not None and app.stuck_threads_left():
    # The capture or recognition thread stuck in a sensor driver or an engine call, which the summary has
    # named (exit 1). Python's own exit would tear the libraries down under it, and the C++ runtime then
    # aborts the process (exit 134 and a core dump, not the summary's 1): everything written and flushed,
    # it ends here. (Another thread left, an alert's POST waiting for its answer, is Python's to end.)
    logging.shutdown()
    flush_standard_streams()
    app.end_process_now(status)
raise SystemExit(status)
