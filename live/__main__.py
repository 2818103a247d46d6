"""`python -m live`: see live/app.py for the options (`python -m live --help`)."""

from live.app import main

raise SystemExit(main())
