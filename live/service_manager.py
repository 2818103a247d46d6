"""systemd's notify protocol (sd_notify(3)), for a headless run under a unit of `Type=notify`.

    READY=1      once the run is recognising (the model loaded, its engine warmed up): `systemctl start`
                 returns then, and a unit ordered after it starts only then
    WATCHDOG=1   from the headless main loop, twice per `WatchdogSec`: a main loop that hangs is killed and
                 restarted by systemd (the app's own checks end a run whose sensor read or recognition
                 step hangs; this covers the loop itself)
    STOPPING=1   as it shuts down

Nothing is sent where NOTIFY_SOCKET is unset (a run from a shell, another service manager), and a socket
that refuses is said once in the log, not allowed to stop the run. No dependency: a datagram to a Unix
socket, as sd_notify itself sends.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


# What systemd gives the main process alone: a command it starts (an alert's) must not take them for its own
# (sd_notify(3)'s unset_environment): a notification of its is refused and logged under NotifyAccess=main,
# and a child that pings WATCHDOG=1 where allowed would keep a hung run alive.
SERVICE_MANAGER_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def environment_for_children(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`environ` less what systemd meant for this process alone (SERVICE_MANAGER_VARIABLES)."""
    return {name: value for name, value in environ.items() if name not in SERVICE_MANAGER_VARIABLES}


class ServiceManager:
    """Where a run tells systemd how it is (see the module docstring)."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is Linux's abstract namespace, written with a leading NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_every_s: float | None = None
        usec, pid = environ.get("WATCHDOG_USEC", ""), environ.get("WATCHDOG_PID", "")
        if self._address and usec.isdigit() and int(usec) > 0 and pid in ("", str(os.getpid())):
            self.watchdog_every_s = int(usec) / 2e6  # twice per period, as sd_watchdog_enabled(3) advises
        self._next_ping = 0.0
        self._failed = False

    def notify(self, message: str, wait_s: float = 0.0) -> None:
        """Send one notification ("READY=1", ...); nothing without a socket to send it to. `wait_s`: how
        long a full queue of the manager's is waited for. READY=1 and STOPPING=1 are sent once, and one
        lost left the unit starting until its start timeout killed it; a ping is never waited for (a
        manager that reads none held the main loop), the next one comes soon."""
        if not self._address or not hasattr(socket, "AF_UNIX"):
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as channel:
                channel.settimeout(wait_s)  # 0: not waited for at all
                channel.connect(self._address)
                channel.sendall(message.encode("utf-8"))
        except OSError as error:
            if not self._failed:
                self._failed = True
                log.warning("cannot tell the service manager %r through NOTIFY_SOCKET %s (%s): under "
                            "Type=notify it may take this run for one that never started or hangs",
                            message, self._address.replace("\0", "@"), error.strerror or error)

    def ping(self, now: float) -> None:
        """WATCHDOG=1 when its time has come (`now`: time.monotonic()); call it from the main loop."""
        if self.watchdog_every_s is not None and now >= self._next_ping:
            self.notify("WATCHDOG=1")
            self._next_ping = now + self.watchdog_every_s
