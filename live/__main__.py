"""`python -m live`: see live/app.py for the options (`python -m live --help`)."""

import signal
import sys

from recordings.stop_signals import run_program

if hasattr(signal, "SIGHUP"):
    # logrotate's SIGHUP during a service's restart must not kill it (its files are not open yet); a
    # window whose terminal closed while it starts ends as on Ctrl-C. main() installs the same again.
    headless = "--headless" in sys.argv[1:]
    signal.signal(signal.SIGHUP, signal.SIG_IGN if headless else signal.default_int_handler)
raise SystemExit(run_program("python -m live", "live.app"))
