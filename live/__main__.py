"""`python -m live`: see live/app.py for the options (`python -m live --help`)."""

import signal
import sys

from recordings.stop_signals import interrupt_on_stop_signals

# Importing the app (PyTorch, OpenCV) takes a second or two: a Ctrl-C or a service manager's SIGTERM then
# ends it with the same one line and exit status as one during start-up, not a traceback or a bare 143.
interrupt_on_stop_signals()  # SIGTERM (and Ctrl-Break) raise KeyboardInterrupt, as Ctrl-C does
if hasattr(signal, "SIGHUP"):
    # logrotate's SIGHUP during a service's restart must not kill it (its files are not open yet); a
    # window whose terminal closed while it starts ends as on Ctrl-C. main() installs the same again.
    headless = "--headless" in sys.argv[1:]
    signal.signal(signal.SIGHUP, signal.SIG_IGN if headless else signal.default_int_handler)
try:
    from live.app import main
except KeyboardInterrupt:
    print("python -m live: interrupted before it started", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
