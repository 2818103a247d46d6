"""Alerts never lost (live/alert_delivery.py): a local endpoint on 127.0.0.1 that answers, refuses
connections, hangs, fails and comes back, and a process killed in the middle of a delivery."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from live.alert_delivery import AlertDelivery, AlertQueue, DeliveryConfig, Outcome, QueueInUse, shown_url

REPO = Path(__file__).resolve().parents[1]


class Endpoint:
    """An HTTP endpoint on 127.0.0.1. `answer(body) -> status` decides each response; "hang" holds
    the request until `release` is set. `down()` closes the port: connections are refused."""

    def __init__(self) -> None:
        with socket.socket() as probe:  # a port nothing listens on until up()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[tuple[dict, dict]] = []  # (body, headers) in arrival order
        self.gets: list[str] = []  # paths asked for by GET (a followed redirect would arrive as one)
        self.answer: Callable[[dict], int | str] = lambda body: 200
        self.release = threading.Event()
        self.holding = threading.Event()  # a request is being held ("hang")
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def up(self) -> Endpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.received.append((body, dict(self.headers)))
                status = endpoint.answer(body)
                if status == "hang":
                    endpoint.holding.set()
                    endpoint.release.wait(30)
                    status = 200
                if status == "drip body":  # headers whole, then a byte of the body every 0.2 s
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                    while not endpoint.release.wait(0.2):
                        try:
                            self.wfile.write(b"x")
                        except OSError:  # the client gave up
                            break
                    self.close_connection = True
                    return
                if str(status).startswith("drip"):  # an answer that never ends: a header line every 0.2 s
                    code = str(status).partition(" ")[2] or "200"  # "drip 400": that status line first
                    self.wfile.write(f"HTTP/1.1 {code} X\r\n".encode())
                    while not endpoint.release.wait(0.2):
                        try:
                            self.wfile.write(b"X-Wait: 1\r\n")
                            self.wfile.flush()
                        except OSError:  # the client gave up
                            break
                    self.close_connection = True
                    return
                if status == "garbage":  # not HTTP: a proxy restarting half-way through its answer
                    self.wfile.write(b"garbage\r\n")
                    self.close_connection = True
                    return
                retry_after = None
                if str(status).startswith("429 after "):  # "come back in N s"
                    status, retry_after = 429, str(status).removeprefix("429 after ")
                self.send_response(int(status))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                if 300 <= int(status) < 400:
                    # Relative, with the key a proxy keeps when it moves http:// to https://.
                    self.send_header("Location", "/moved?api_key=MOVEDKEY")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self) -> None:  # noqa: N802 - a server that redirects also answers the GET
                endpoint.gets.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a held request must not hold the test
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        return [body["id"] for body, _ in self.received]


@pytest.fixture()
def endpoint():
    endpoint = Endpoint()
    yield endpoint
    endpoint.release.set()
    endpoint.down()


def config(endpoint: Endpoint, tmp_path: Path, **overrides) -> DeliveryConfig:
    values = dict(queue_path=tmp_path / "alerts.jsonl", timeout_s=2.0, backoff_s=0.05, max_backoff_s=0.2,
                  jitter=0.0)
    values.update(overrides)
    return DeliveryConfig(endpoint.url, **values)


def alert(person: int) -> dict:
    return {"person": person, "class": "fall_down", "p": 0.9, "time": "2026-11-30T10:00:00+01:00",
            "stream_time": float(person)}


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def test_each_alert_is_posted_as_json_with_its_idempotency_key(endpoint, tmp_path):
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    keys = [delivery.submit(alert(p)).id for p in (1, 2, 3)]
    assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == keys and delivery.delivered == 3 and delivery.failures == 0
    body, headers = endpoint.received[0]
    assert headers["Content-Type"] == "application/json" and headers["Idempotency-Key"] == keys[0]
    assert body == {**alert(1), "id": keys[0], "sequence": 1}
    assert [b["sequence"] for b, _ in endpoint.received] == [1, 2, 3]
    journal = [(r["op"], r["id"]) for r in records(tmp_path / "alerts.jsonl")]
    for key in keys:  # queued (fsync'd) before it was sent, marked delivered after
        assert journal.index(("queued", key)) < journal.index(("delivered", key))
    assert len(journal) == 6


def test_the_auth_file_s_line_is_each_post_s_authorization_header(endpoint, tmp_path, caplog):
    """A hospital's nurse-call endpoint takes alerts from those it knows: its credentials come from a
    file (not the command line, where ps shows them), go into every POST, and into no log line."""
    from live.alert_delivery import read_authorization

    token = tmp_path / "token"
    token.write_text("\ufeffBearer s3cret-token\n\n")  # as a Windows editor saves it
    endpoint.up()
    with caplog.at_level(logging.DEBUG):
        delivery = AlertDelivery(config(endpoint, tmp_path, authorization=read_authorization(token)))
        delivery.submit(alert(1))
        assert delivery.wait_delivered(10)
        delivery.close()
    assert endpoint.received[0][1]["Authorization"] == "Bearer s3cret-token"
    assert "can be read by other users" in caplog.text  # 0644: said, not refused
    assert "s3cret" not in caplog.text
    token.chmod(0o600)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_authorization(token)
    assert caplog.text == ""
    # A dash pasted from a wiki: HTTP sends headers as Latin-1 at most, and every POST failed for ever as
    # if the endpoint were down.
    for text, message in (("", "found 0"), ("Bearer a\x00b\n", "only printable ASCII"),
                          ("Bearer abc\u2013def\n", "only printable ASCII")):
        token.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_authorization(token)


def test_a_refusing_endpoint_loses_nothing_backs_off_and_delivers_in_order_when_it_comes_back(
    endpoint, tmp_path, caplog
):
    delivery = AlertDelivery(config(endpoint, tmp_path))  # nothing listens: connections are refused
    with caplog.at_level(logging.INFO, logger="live.alert_delivery"):
        keys = [delivery.submit(alert(p)).id for p in range(5)]
        assert delivery.flush(5)
        assert [r["id"] for r in records(tmp_path / "alerts.jsonl")] == keys  # on disk, in order
        wait_for(lambda: delivery.failures >= 4)
        assert delivery.pending == 5 and delivery.delivered == 0
        # For --status-file: how many wait, and how long the first has (the oldest, queued first).
        waiting, oldest_s = delivery.waiting()
        assert waiting == 5 and 0.15 < oldest_s < 30
        assert delivery.current_backoff_s == pytest.approx(0.2)  # 0.05, 0.1, 0.2, then capped
        endpoint.up()
        assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == keys  # each once, in the order raised
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed" in m and "tried again every" in m for m in messages) == 1  # not one line per retry
    assert any("works again" in m for m in messages)


@pytest.mark.parametrize("raised_s", [-3600, 7200])  # an hour ago; or "ahead", the clock stepped back since
def test_an_alert_raised_after_an_outage_is_sent_before_its_backlog(endpoint, tmp_path, raised_s):
    """An hour's outage left 390 alerts waiting; a fall raised as the endpoint came back was paged last,
    10 s later at 20 ms a POST (after a weekend, minutes). The backlog follows it, in order."""
    delivery = AlertDelivery(config(endpoint, tmp_path))  # nothing listens: connections are refused
    backlog = [delivery.submit(alert(p)).id for p in range(3)]
    assert delivery.flush(5)
    delivery.close(0.0)
    queue = tmp_path / "alerts.jsonl"
    lines = [{**r, "queued_at": r["queued_at"] + raised_s} if r["op"] == "queued" else r
             for r in records(queue)]
    queue.write_text("".join(json.dumps(r) + "\n" for r in lines))

    delivery = AlertDelivery(config(endpoint, tmp_path))
    fresh = [delivery.submit(alert(p)).id for p in (10, 11)]
    wait_for(lambda: delivery.failures >= 1)
    endpoint.up()
    assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == [*fresh, *backlog]


@pytest.mark.parametrize("step_s", [-2.0, 120.0])  # NTP sets the clock back 2 s, or on by two minutes
def test_a_clock_stepped_during_an_outage_does_not_send_a_fresh_alert_after_the_backlog(
    endpoint, tmp_path, monkeypatch, step_s
):
    """Fresh is judged by the time since this run raised the alert: by the wall clock, a fall raised just
    before a step went after the whole backlog (390 alerts for an hour's outage)."""
    delivery = AlertDelivery(config(endpoint, tmp_path))  # nothing listens: connections are refused
    backlog = [delivery.submit(alert(p)).id for p in range(3)]
    assert delivery.flush(5)
    delivery.close(0.0)
    queue = tmp_path / "alerts.jsonl"
    lines = [{**r, "queued_at": r["queued_at"] - 3600} if r["op"] == "queued" else r for r in records(queue)]
    queue.write_text("".join(json.dumps(r) + "\n" for r in lines))

    delivery = AlertDelivery(config(endpoint, tmp_path))
    fall = delivery.submit(alert(10)).id
    wall = time.time
    monkeypatch.setattr(time, "time", lambda: wall() + step_s)
    later = delivery.submit(alert(11)).id
    wait_for(lambda: delivery.failures >= 1)
    endpoint.up()
    assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == [fall, later, *backlog]


def test_a_hanging_endpoint_times_out_the_alert_is_sent_again_and_new_alerts_still_reach_the_disk(
    endpoint, tmp_path
):
    endpoint.answer = lambda body: "hang" if len(endpoint.received) == 1 else 200
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, timeout_s=0.5))
    first = delivery.submit(alert(1)).id
    assert endpoint.holding.wait(5)  # the POST is stuck in the endpoint
    second = delivery.submit(alert(2)).id
    assert delivery.flush(2)  # journaled while the network is stuck
    assert second in {r["id"] for r in records(tmp_path / "alerts.jsonl")}
    assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == [first, first, second]  # the first again, with the same key
    assert delivery.failures == 1


def test_server_errors_are_retried_and_a_rejected_alert_does_not_hold_back_the_next(
    endpoint, tmp_path, caplog
):
    answers = iter([503, 500, 200, 400, 200])
    endpoint.answer = lambda body: next(answers)
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        keys = [delivery.submit(alert(p)).id for p in (1, 2, 3)]
        assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == [keys[0], keys[0], keys[0], keys[1], keys[2]]
    assert delivery.delivered == 2 and delivery.rejected == 1 and delivery.failures == 2
    rejected = [r for r in records(tmp_path / "alerts.jsonl") if r["op"] == "rejected"]
    assert [(r["id"], r["sequence"], r["status"]) for r in rejected] == [(keys[1], 2, 400)]
    assert any("rejected" in r.getMessage() and "400" in r.getMessage() for r in caplog.records)


def test_a_receiver_that_refuses_the_url_or_the_login_keeps_every_alert_until_fixed(
    endpoint, tmp_path, caplog, monkeypatch
):
    """401/403/404/...: the URL or the credentials are wrong, not the alert (a receiver deployed wrong, a
    proxy's login). Rejecting them threw a whole backlog of falls away for good; they are retried with
    one ERROR saying what to fix, and while it lasts a WARNING every OUTAGE_REMINDER_S says how many
    wait (the first failure alone is easy to miss hours later)."""
    import live.alert_delivery

    monkeypatch.setattr(live.alert_delivery, "OUTAGE_REMINDER_S", 0.3)
    from live.headless import delivery_status

    answers = iter([404, 503] * 4 + [403, 401, 200, 200])  # one backend of two deployed wrong, say
    endpoint.answer = lambda body: next(answers)
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, max_backoff_s=0.1))
    with caplog.at_level(logging.WARNING, logger="live.alert_delivery"):
        keys = [delivery.submit(alert(p)).id for p in (1, 2)]
        wait_for(lambda: delivery.failing and delivery.pending == 2)
        status = delivery_status(SimpleNamespace(delivery=delivery, command_failing=False))
        assert status == ["DELIVERY FAILING: 2 alerts waiting"]  # the status line's
        assert delivery.wait_delivered(20)
    delivery.close()
    assert delivery.delivered == 2 and delivery.rejected == 0
    assert endpoint.ids()[-2:] == keys and set(endpoint.ids()) == set(keys)
    said = [r.getMessage() for r in caplog.records]
    refused = "refuses this URL or these credentials, not this alert"
    assert sum(refused in s for s in said) == 3  # said once per answer and outage: 404, 403, 401
    assert any("still failing after" in s and "2 alert(s) waiting" in s for s in said)


# 408 (timeout), 425 (too early) and 429 (too many requests) say "not now", not "never"; 401, 403, 404, 405,
# 407 and 410 are about where the alert is sent or who sends it, not about the alert; an answer that is not
# HTTP (a proxy restarting half-way through it) is no answer. Rejecting any of them would throw a fall away
# for good: because the receiver was busy for a moment, or set up wrong (a whole backlog of them).
@pytest.mark.parametrize(("status", "refusals"), [(408, 1), (425, 1), (429, 1), (401, 2), (403, 2), (404, 2),
                                                  (405, 2), (407, 2), (410, 2), ("garbage", 1)])
def test_an_answer_that_is_not_about_the_alert_keeps_it_for_a_retry_and_delivers_it(
    endpoint, tmp_path, status, refusals
):
    answers = iter([*[status] * refusals, 200])
    endpoint.answer = lambda body: next(answers)
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    key = delivery.submit(alert(1)).id
    assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == [key] * (refusals + 1)  # the same alert again, with its key
    assert delivery.delivered == 1 and delivery.rejected == 0 and delivery.failures == refusals
    assert [r["op"] for r in records(tmp_path / "alerts.jsonl")] == ["queued", "delivered"]


def test_a_receiver_that_asks_to_be_left_a_while_is_and_what_it_says_stays_on_one_log_line(
    endpoint, tmp_path, caplog
):
    """A receiver rate-limiting (429, Retry-After) was sent the same alert again at +1, +2, +4, +8 s; it
    is left as long as it asks, up to max_backoff_s. A reply that is not HTTP was quoted into the log with
    its line break, which split the line (an endpoint could forge one)."""
    arrived: list[float] = []
    answers = iter(["429 after 0", "429 after 1", "429 after 100", "garbage", 200])
    endpoint.answer = lambda body: (arrived.append(time.monotonic()), next(answers))[1]
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, backoff_s=0.05, max_backoff_s=0.6))
    with caplog.at_level(logging.DEBUG, logger="live.alert_delivery"):
        delivery.submit(alert(1))
        assert delivery.wait_delivered(10)
    delivery.close()
    waits = [later - earlier for earlier, later in zip(arrived, arrived[1:], strict=False)]
    assert waits[0] < 0.5  # asked for none: the doubling alone
    assert waits[1] >= 0.55 and waits[2] >= 0.55  # asked for 1 s and 100 s: max_backoff_s, 0.6 s, each
    assert waits[3] < 0.5  # not asked: the doubling alone
    said = [r.getMessage() for r in caplog.records if "garbage" in r.getMessage()]
    assert said and all("\n" not in s and "\r" not in s and "garbage\\r\\n" in s for s in said)
    longest = "(waits about 0.6 s, the longest wait between tries)"
    [at_once] = [r.getMessage() for r in caplog.records if "asked to try again in 0.0 s" in r.getMessage()]
    assert longest not in at_once  # asked for less than the longest wait: waited as asked
    assert any(f"HTTP 429, asked to try again in 1 s {longest}" in r.getMessage() for r in caplog.records)
    assert any(f"asked to try again in 100 s {longest}" in r.getMessage() for r in caplog.records)


def test_a_retry_after_of_any_shape_is_read_or_set_aside_and_a_reply_is_escaped() -> None:
    """'Retry-After: \u00b2' (a Latin-1 byte) passed str.isdigit and float() raised inside the answer's
    handling: the alert was set aside as rejected, never sent again."""
    from live.alert_delivery import _one_line, _retry_after_s

    assert _retry_after_s("30") == 30.0 and _retry_after_s(" 0 ") == 0.0
    for junk in ("\u00b2", "\u0663", "-5", "1.5", "soon", "", None, "Mon, 99 Foo 9999 99:99:99 GMT",
                 "9" * 400):  # (the last: infinite as a float)
        assert _retry_after_s(junk) is None, junk
    for past in ("Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                 "Sun Nov  6 08:49:37 1994"):
        assert _retry_after_s(past) == 0.0, past  # RFC 9110's three forms; a date past: at once
    import email.utils

    in_90_s = email.utils.formatdate(time.time() + 90, usegmt=True)  # "Mon, 07 Dec 2026 16:20:00 GMT"
    assert 88 <= _retry_after_s(in_90_s) <= 90, in_90_s
    assert _one_line("a\r\nb\x85c\u2028d\te") == "a\\r\\nb\\x85c\\u2028d\\te"


def test_each_wait_before_a_retry_is_spread_by_the_jitter(endpoint, tmp_path, monkeypatch):
    # Rooms restarted together (a power cut on the ward) must not all retry in the same instant: each
    # wait is the doubled delay times 1 + jitter * (2 * random() - 1).
    import live.alert_delivery

    monkeypatch.setattr(live.alert_delivery.random, "random", lambda: 0.75)
    # Nothing listens: the first POST is refused. A 1 s first wait leaves time to read it.
    delivery = AlertDelivery(config(endpoint, tmp_path, backoff_s=1.0, max_backoff_s=4.0, jitter=0.5))
    delivery.submit(alert(1))
    wait_for(lambda: delivery.current_backoff_s > 0)
    backoff = delivery.current_backoff_s
    delivery.close(0.0)
    assert backoff == pytest.approx(1.0 * (1 + 0.5 * (2 * 0.75 - 1)))  # 1.25 s, not the bare 1 s


def test_the_wait_stays_at_its_longest_however_long_the_receiver_is_down(endpoint, tmp_path):
    """After 1,024 failed tries in a row (some 17 hours of a receiver down, at most a minute apart) the
    doubled wait overflowed, and the exception ended the sender: no alert went out again, even once
    the receiver was back, until a restart."""
    delivery = AlertDelivery(config(endpoint, tmp_path, backoff_s=0.001, max_backoff_s=0.01, jitter=0.0))
    try:
        delivery._streak = 5000  # as after a weekend down
        delivery._back_off(Outcome.RETRY, "connection refused")
        assert delivery.current_backoff_s == 0.01 and delivery._streak == 5001
    finally:
        delivery.close(0.0)


def test_the_sender_outlives_an_error_of_its_own(endpoint, tmp_path, caplog):
    """An error in the sender's own code (as the overflow above) ended its thread: a traceback, then no
    alert sent again until a restart. It is said, and the sender goes on."""
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, max_backoff_s=0.1))
    choose = delivery._next_to_send
    failures = iter([RuntimeError("a bug of the sender's")] * 2)
    tried_at = []

    def fails_twice():
        tried_at.append(time.monotonic())
        for error in failures:
            raise error
        return choose()

    delivery._next_to_send = fails_twice
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        keys = [delivery.submit(alert(p)).id for p in (1, 2)]
        assert delivery.wait_delivered(20)
    delivery.close()
    assert sorted(endpoint.ids()) == sorted(keys)  # and the one after it too
    assert "the alert sender failed; it goes on in 0.1 s" in caplog.text
    assert tried_at[1] - tried_at[0] >= 0.09 and tried_at[2] - tried_at[1] >= 0.09  # not a loop spinning


CRASHING_RUN = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from live.alert_delivery import AlertDelivery, DeliveryConfig

    url, queue = sys.argv[1], Path(sys.argv[2])
    delivery = AlertDelivery(DeliveryConfig(url, queue_path=queue, timeout_s=30.0, backoff_s=0.05,
                                            max_backoff_s=0.1, jitter=0.0))
    for person in range(6):
        delivery.submit({"person": person, "class": "fall_down"})
    assert delivery.flush(10)
    deadline = time.monotonic() + 20
    while delivery.delivered < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    print(delivery.delivered, flush=True)
    time.sleep(0.5)  # the third POST is now held by the endpoint
    os._exit(1)  # killed: no close, no flush, no atexit
""")


def test_a_crash_in_the_middle_loses_nothing_and_the_restart_sends_the_rest_in_order(
    endpoint, tmp_path, caplog
):
    queue = tmp_path / "alerts.jsonl"
    endpoint.answer = lambda body: 200 if len({b["id"] for b, _ in endpoint.received}) <= 2 else "hang"
    endpoint.up()
    crashed = subprocess.run([sys.executable, "-c", CRASHING_RUN, endpoint.url, str(queue)], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert crashed.returncode == 1 and crashed.stdout.strip() == "2", crashed.stderr
    assert [b["person"] for b, _ in endpoint.received] == [0, 1, 2]
    # A write the crash cut short (a torn last line) must not stop the restart either.
    with open(queue, "ab") as f:
        f.write(b'{"op": "queued", "id": "torn')

    endpoint.answer = lambda body: 200
    with caplog.at_level(logging.WARNING, logger="live.alert_delivery"):
        delivery = AlertDelivery(config(endpoint, tmp_path))
        assert delivery.wait_delivered(10)
    delivery.close()
    persons = [b["person"] for b, _ in endpoint.received]
    assert persons == [0, 1, 2, 2, 3, 4, 5]  # 0 and 1 were delivered before the crash; 2 again, same key
    assert endpoint.ids()[2] == endpoint.ids()[3]
    assert [b["sequence"] for b, _ in endpoint.received[3:]] == [3, 4, 5, 6]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "4 alert(s) from an earlier run" in messages and "incomplete last line" in messages


def test_a_second_process_on_the_same_queue_is_refused(endpoint, tmp_path):
    first = AlertDelivery(config(endpoint, tmp_path))
    with pytest.raises(QueueInUse, match="alerts.jsonl"):
        AlertDelivery(config(endpoint, tmp_path))
    first.close(0.0)
    AlertDelivery(config(endpoint, tmp_path)).close(0.0)  # free again once closed


def test_a_lock_the_system_lets_go_of_late_is_waited_for_not_refused(endpoint, tmp_path, monkeypatch):
    """Windows frees a dead process's lock after a delay: the service its manager restarted at once found
    its own queue 'in use by another process', exit 2, and stayed down."""
    import live.alert_delivery

    held_for = iter([OSError(13, "locked"), OSError(13, "locked")])  # let go on the third try
    lock = live.alert_delivery.lock_exclusive

    def released_late(handle):
        if (error := next(held_for, None)) is not None:
            raise error
        lock(handle)

    monkeypatch.setattr(live.alert_delivery, "lock_exclusive", released_late)
    monkeypatch.setattr(live.alert_delivery, "LOCK_WAIT_S", 2.0)
    AlertDelivery(config(endpoint, tmp_path)).close(0.0)


def test_a_queue_that_fails_to_open_is_let_go(tmp_path, monkeypatch):
    import live.alert_delivery

    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b'{"op":"queued"')  # a crash cut the line short: reading back truncates and syncs

    def disk_gone(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(live.alert_delivery.os, "fsync", disk_gone)
        with pytest.raises(OSError, match="Input/output") as failed:  # kept, as a log of the error keeps it
            AlertQueue(path)
    AlertQueue(path).close()  # not held by the failed open: the retry gets the queue
    assert failed.value.errno == 5


def test_a_file_that_is_not_a_queue_is_refused_untouched(tmp_path):
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text('{"time": "2026-12-03", "person": 1}\n' * 100 + "plain text\n", encoding="utf-8")
    before = decisions.read_bytes()
    with pytest.raises(ValueError, match="decisions.jsonl: not an alert queue"):
        AlertQueue(decisions)
    assert decisions.read_bytes() == before and sorted(tmp_path.iterdir()) == [decisions]  # no .lock
    torn = tmp_path / "queue.jsonl"
    torn.write_bytes(b'{"op": "queued", "id": "ab')  # power cut during the first append to a new queue
    AlertQueue(torn).close()  # a queue: the torn line is dropped, as for any queue


def test_the_queue_file_is_compacted_once_everything_is_delivered_and_sequences_keep_increasing(
    endpoint, tmp_path
):
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, compact_bytes=600))
    for person in range(6):
        delivery.submit(alert(person))
    assert delivery.wait_delivered(10)
    delivery.close()
    assert records(tmp_path / "alerts.jsonl") == [{"op": "sequence", "next": 7}]
    assert AlertQueue(tmp_path / "alerts.jsonl").pending == []
    restarted = AlertDelivery(config(endpoint, tmp_path, compact_bytes=600))
    restarted.submit(alert(7))
    assert restarted.wait_delivered(10)
    restarted.close()
    assert [b["sequence"] for b, _ in endpoint.received] == [1, 2, 3, 4, 5, 6, 7]


def test_compaction_keeps_rejected_alerts_in_the_rejected_file(endpoint, tmp_path):
    answers = iter([200, 400, 200, 200, 200, 200])
    endpoint.answer = lambda body: next(answers)
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, compact_bytes=600))
    keys = [delivery.submit(alert(person)).id for person in range(6)]
    assert delivery.wait_delivered(10)
    delivery.close()
    assert records(tmp_path / "alerts.jsonl") == [{"op": "sequence", "next": 7}]  # it was compacted
    [kept] = records(tmp_path / "alerts.rejected.jsonl")
    assert (kept["op"], kept["id"], kept["sequence"], kept["status"]) == ("rejected", keys[1], 2, 400)
    assert kept["alert"] == alert(1)  # the alert itself, not only its key


def test_a_compaction_the_full_disk_refuses_leaves_the_queue_taking_and_sending_the_next_alerts(
    endpoint, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="live.alert_delivery")
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, compact_bytes=1))  # compacts after each delivery
    keep_rejected = AlertQueue._keep_rejected
    refusals = iter([OSError(errno.ENOSPC, "No space left on device")])

    def full_once(queue: AlertQueue) -> None:
        if (error := next(refusals, None)) is not None:
            raise error
        keep_rejected(queue)

    monkeypatch.setattr(AlertQueue, "_keep_rejected", full_once)
    delivery.submit(alert(1))
    wait_for(lambda: "could not compact" in caplog.text)  # after the delivery: the compaction that failed
    assert "No space left" in caplog.text
    caplog.clear()
    keys = [delivery.submit(alert(person)).id for person in (2, 3, 4)]
    assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids()[1:] == keys and delivery.delivered == 4 and not delivery.failing
    # Each written to the queue file before it was sent: the file was not left closed.
    assert "could not be written" not in caplog.text and "could not mark" not in caplog.text
    assert records(tmp_path / "alerts.jsonl") == [{"op": "sequence", "next": 5}]  # compacted after all


def test_a_queue_is_not_compacted_while_an_alert_in_it_is_unsettled(tmp_path):
    queue = AlertQueue(tmp_path / "alerts.jsonl", compact_bytes=100)
    for sequence, key in enumerate(("a", "b"), start=1):
        queue.append({"op": "queued", "id": key, "sequence": sequence, "alert": alert(sequence)})
    queue.append({"op": "delivered", "id": "a"})
    before = (tmp_path / "alerts.jsonl").read_bytes()
    assert len(before) > 100 and not queue.compact_if_done(3)  # "b" is still to be sent
    assert (tmp_path / "alerts.jsonl").read_bytes() == before
    queue.append({"op": "delivered", "id": "b"})
    assert queue.compact_if_done(3)
    assert records(tmp_path / "alerts.jsonl") == [{"op": "sequence", "next": 3}]
    queue.close()


def test_after_delivery_works_again_a_new_outage_is_reported_and_counted_afresh(endpoint, tmp_path, caplog):
    delivery = AlertDelivery(config(endpoint, tmp_path))  # nothing listens yet
    with caplog.at_level(logging.INFO, logger="live.alert_delivery"):
        delivery.submit(alert(1))
        wait_for(lambda: delivery.failures >= 3)
        endpoint.up()
        assert delivery.wait_delivered(10)
        endpoint.down()
        failures = delivery.failures
        delivery.submit(alert(2))
        wait_for(lambda: delivery.failures > failures)
        endpoint.up()
        assert delivery.wait_delivered(10)
    delivery.close()
    messages = [r.getMessage() for r in caplog.records]
    # Each outage is reported once, as it starts, and once when it ends: the count of failed tries
    # in a row starts again after a delivery (the backoff delay doubles with that same count).
    assert sum("failed" in m and "tried again every" in m for m in messages) == 2
    assert sum("works again" in m for m in messages) == 2


@pytest.mark.parametrize("status", [301, 307])
def test_a_redirect_is_not_followed_the_alert_stays_queued_and_the_location_is_logged(
    endpoint, tmp_path, caplog, status
):
    endpoint.answer = lambda body: status
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        key = delivery.submit(alert(1)).id
        wait_for(lambda: delivery.failures >= 3)
        # Neither delivered (a 301 followed becomes a GET without the alert) nor rejected (a 307
        # followed by urllib raises): it waits, retried with backoff, until the URL is fixed.
        assert delivery.delivered == 0 and delivery.rejected == 0 and delivery.pending == 1
        assert endpoint.gets == []
        endpoint.answer = lambda body: 200
        assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids()[-1] == key and delivery.delivered == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"HTTP {status}" in errors[0] and f"{endpoint.port}/moved?…" in errors[0]
    assert "MOVEDKEY" not in caplog.text  # the Location is shown as the alert URL is: no key in the log
    assert [r["op"] for r in records(tmp_path / "alerts.jsonl")] == ["queued", "delivered"]


def test_damaged_lines_not_json_or_without_an_alerts_fields_are_reported_and_the_others_kept(
    endpoint, tmp_path, caplog
):
    queue = tmp_path / "alerts.jsonl"
    queue.write_text('{"op": "queued", "id": "a", "sequence": 1, "alert": {"person": 1}}\n'
                     'this is not json\n'
                     '{"op": "queued", "id": "no-alert", "sequence": 2}\n'
                     '{"op": "queued", "id": "no-sequence", "sequence": null, "alert": {"person": 3}}\n'
                     '[1, 2]\n'
                     '{"op": "queued", "id": "b", "sequence": 5, "alert": {"person": 5}}\n'
                     '{"op": "queued", "id": "when", "sequence": 6, "alert": {"person": 6}, '
                     '"queued_at": "x"}\n')
    endpoint.up()
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        delivery = AlertDelivery(config(endpoint, tmp_path))  # valid JSON of the wrong shape: no TypeError
        assert delivery.wait_delivered(10)
        delivery.submit(alert(6))  # the sender is still alive after them
        assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids()[:2] == ["a", "b"] and endpoint.received[2][0]["sequence"] == 6
    assert delivery.queue.damaged_at_start == 5
    messages = " ".join(r.getMessage() for r in caplog.records)
    for number, what in ((2, "Expecting value"), (3, '"alert"'), (4, '"sequence"'), (5, "JSON object"),
                         (7, '"queued_at"')):
        assert f"alerts.jsonl: line {number} is damaged" in messages and what in messages
    # Set aside at start: the queue keeps its good lines, the damaged ones wait in alerts.damaged.txt.
    assert b"this is not json" not in queue.read_bytes()

    # Once every alert is settled the queue is rewritten as usual; the damaged lines stay aside, once.
    small = AlertQueue(queue, compact_bytes=100)
    assert small.damaged_at_start == 0
    assert small.compact_if_done(small.next_sequence)
    assert (tmp_path / "alerts.damaged.txt").read_text().splitlines() == [
        "this is not json", '{"op": "queued", "id": "no-alert", "sequence": 2}',
        '{"op": "queued", "id": "no-sequence", "sequence": null, "alert": {"person": 3}}', "[1, 2]",
        '{"op": "queued", "id": "when", "sequence": 6, "alert": {"person": 6}, "queued_at": "x"}']
    assert [r["op"] for r in records(queue)] == ["sequence"]
    small.close()


def test_an_alert_that_cannot_be_sent_is_set_aside_and_the_next_one_is_delivered(endpoint, tmp_path, caplog):
    import numpy as np

    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        unsendable = delivery.submit({**alert(1), "p": np.float32(0.9)}).id  # json cannot encode it
        sendable = delivery.submit(alert(2)).id
        assert delivery.wait_delivered(10)
    delivery.close()
    assert endpoint.ids() == [sendable]
    assert delivery.rejected == 1 and delivery.delivered == 1
    set_aside = [r for r in records(tmp_path / "alerts.jsonl") if r["op"] == "rejected"]
    assert [(r["id"], r["status"]) for r in set_aside] == [(unsendable, None)]
    assert "float32" in set_aside[0]["reason"]
    assert any("cannot be sent" in r.getMessage() and r.exc_info for r in caplog.records)


class HungDisk:
    """Stands in for a disk whose write + fsync never returns (until `release` is set)."""

    def __init__(self, delivery: AlertDelivery) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        real_append = delivery.queue.append

        def append(record: dict) -> None:
            self.entered.set()
            self.release.wait(30)
            real_append(record)

        delivery.queue.append = append


def test_alerts_are_sent_while_the_queue_file_hangs_and_settled_in_it_after(endpoint, tmp_path, monkeypatch):
    # A share holding the queue hung for minutes: alerts were POSTed only once their lines were written,
    # so none reached the nurses meanwhile, and nothing said why.
    import live.alert_delivery
    from live.headless import AlertConfig, AlertDispatcher, delivery_status

    monkeypatch.setattr(live.alert_delivery, "WRITE_STUCK_S", 0.2)
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, compact_bytes=200))
    disk = HungDisk(delivery)
    keys = [delivery.submit(alert(person)).id for person in (1, 2, 3)]
    assert disk.entered.wait(5)
    wait_for(lambda: delivery.delivered == 3)  # sent, though none is on disk yet
    assert sorted(endpoint.ids()) == sorted(keys) and delivery.pending == 0
    wait_for(lambda: delivery.write_stuck_s is not None, 5)
    dispatcher = AlertDispatcher(AlertConfig(classes=("fall_down",)), ("fall_down",))
    dispatcher.delivery = delivery  # the status line a run prints
    assert any("alerts.jsonl STUCK FOR" in line for line in delivery_status(dispatcher))
    disk.release.set()
    delivery.close()
    assert delivery.lost == 0
    # Each delivered line after its alert's queued line: nothing is sent again at the next start.
    assert records(tmp_path / "alerts.jsonl") == [{"op": "sequence", "next": 4}]
    again = AlertDelivery(config(endpoint, tmp_path))
    assert again.queue.pending == []
    again.close(0.0)


def test_an_alert_delivered_during_the_stop_is_marked_so_and_the_stop_is_not_held(endpoint, tmp_path):
    # Its delivered line came after the journal had ended: never written (sent again at the next start),
    # or behind the journal's stop, which then waited on an empty hand-off until the disk timeout.
    endpoint.answer = lambda body: (time.sleep(0.5), 200)[1]
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, disk_timeout_s=5.0))
    delivery.submit(alert(1))
    assert delivery.flush()
    started = time.monotonic()
    delivery.close(0.1)
    assert time.monotonic() - started < 3 and not delivery._journal.is_alive()
    assert delivery.delivered == 1 and [r["op"] for r in records(tmp_path / "alerts.jsonl")] == [
        "queued", "delivered"]
    again = AlertDelivery(config(endpoint, tmp_path))
    assert again.queue.pending == []
    again.close(0.0)
    # Answered while close() gathers what the journal left (a slow share): marked all the same.
    endpoint.answer = lambda body: (time.sleep(1.0), 200)[1]
    late = AlertDelivery(config(endpoint, tmp_path))
    gather = late._keep_what_the_journal_left
    late._keep_what_the_journal_left = lambda: (gather(), time.sleep(1.5))
    late.submit(alert(2))
    assert late.flush()
    late.close(0.0)
    assert late.delivered == 1 and [r["op"] for r in records(tmp_path / "alerts.jsonl")][-2:] == [
        "queued", "delivered"]


def test_a_disk_that_answers_again_during_the_stop_leaves_no_thread_and_loses_no_count(
    endpoint, tmp_path, monkeypatch
):
    # Found by random fault injection. The hand-off full of a hung disk's records took no stop marker:
    # the journal then waited on it for ever, the file closed under it. And a queue file deleted while
    # the disk hung counted the alerts of the deleted file as still on disk: two lost, said one.
    import live.alert_delivery

    monkeypatch.setattr(live.alert_delivery, "SUBMITTED_BACKLOG", 1)
    endpoint.answer = lambda body: 503
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, disk_timeout_s=0.5))
    disk = HungDisk(delivery)
    for person in range(3):
        delivery.submit(alert(person))
    assert disk.entered.wait(5)
    threading.Timer(1.2, disk.release.set).start()  # after close() gave up on the file (1 s)
    delivery.close(0.0)
    delivery._journal.join(3)
    assert not delivery._journal.is_alive()
    # Every alert counted once as not delivered; as lost (3 here) unless a slow stop outlasted the hang.
    assert (delivery.pending, delivery.delivered) == (3, 0) and 0 <= delivery.lost <= 3

    deleted = AlertDelivery(config(endpoint, tmp_path / "deleted", disk_timeout_s=0.2))
    for person in (1, 2):
        deleted.submit(alert(person))
    assert deleted.flush()
    (tmp_path / "deleted" / "alerts.jsonl").unlink()
    hung = HungDisk(deleted)  # the new file's first write hangs
    deleted.submit(alert(3))
    assert hung.entered.wait(5)
    deleted.close(0.0)
    hung.release.set()
    assert (deleted.pending, deleted.lost) == (3, 3)


def test_close_while_the_disk_hangs_counts_no_alert_twice(endpoint, tmp_path):
    # Those never handed to the sender counted lost, not pending: "-2 alert(s) not delivered yet; they wait".
    endpoint.answer = lambda body: 503
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, disk_timeout_s=0.2))
    disk = HungDisk(delivery)
    for person in (1, 2):
        delivery.submit(alert(person))
    assert disk.entered.wait(5)
    delivery.close(0.0)
    disk.release.set()
    assert (delivery.pending, delivery.lost) == (2, 2)  # the summary's "waiting" is pending - lost: none


def test_close_returns_when_the_disk_hangs_and_says_the_file_stays_open(endpoint, tmp_path, caplog):
    delivery = AlertDelivery(config(endpoint, tmp_path, disk_timeout_s=0.2))
    disk = HungDisk(delivery)
    delivery.submit(alert(1))
    assert disk.entered.wait(5)
    closing = threading.Thread(target=delivery.close, args=(0.0,), daemon=True)
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        closing.start()
        closing.join(10)
        returned = not closing.is_alive()
    disk.release.set()
    assert returned
    assert any("stays open" in r.getMessage() and "alerts.jsonl" in r.getMessage() for r in caplog.records)
    # Not on disk, so not waiting there for the next start: lost with this process, and said so.
    assert delivery.lost == 1 and any("1 undelivered alert(s) not written to it are lost" in r.getMessage()
                                      for r in caplog.records)


def test_alerts_raised_while_the_disk_hangs_wait_in_a_bounded_hand_off_and_none_is_lost(
    endpoint, tmp_path, caplog
):
    from live.alert_delivery import SUBMITTED_BACKLOG

    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, compact_bytes=600))
    disk = HungDisk(delivery)
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        keys = [delivery.submit(alert(person)).id for person in range(SUBMITTED_BACKLOG + 10)]
    assert disk.entered.wait(5)
    assert delivery._submitted.qsize() <= SUBMITTED_BACKLOG  # memory held for the journal is bounded
    assert any("disk hung" in r.getMessage() for r in caplog.records)
    assert delivery.unsaved >= 9  # said in the status lines: not yet on disk
    disk.release.set()
    assert delivery.wait_delivered(20)
    delivery.close()
    assert sorted(endpoint.ids()) == sorted(keys)  # every alert arrived, on disk or from memory
    assert sorted(b["sequence"] for b, _ in endpoint.received) == list(range(1, len(keys) + 1))
    # The alerts kept in memory only do not confuse the file's bookkeeping: it is compacted as usual.
    assert records(tmp_path / "alerts.jsonl") == [{"op": "sequence", "next": len(keys) + 1}]


def test_alerts_past_the_hand_off_are_written_once_the_disk_answers_not_lost(endpoint, tmp_path):
    """Past the bounded hand-off, an alert went to the sender alone: never written, not counted unsaved,
    and at a stop with the endpoint down said to 'stay in' the file it was never in."""
    from live.alert_delivery import SUBMITTED_BACKLOG

    endpoint.answer = lambda body: 503
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    disk = HungDisk(delivery)
    raised = SUBMITTED_BACKLOG + 3
    for person in range(raised):
        delivery.submit(alert(person))
    assert disk.entered.wait(5)
    disk.release.set()
    assert delivery.flush(20)
    delivery.close(0.0)
    assert delivery.lost == 0
    again = AlertDelivery(config(endpoint, tmp_path))
    assert len(again.queue.pending) == raised
    again.close(0.0)


def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError, match="http"):
        DeliveryConfig("ftp://example.org/alerts")
    with pytest.raises(ValueError, match="'http://': no host in it"):
        DeliveryConfig("http://")
    with pytest.raises(ValueError, match="'http://nurse:call/alerts': Port could not be cast"):
        DeliveryConfig("http://nurse:call/alerts")


def test_alerts_rejected_or_not_yet_delivered_are_errors_of_the_run(endpoint, tmp_path):
    """A service monitor watching the exit status must not see success while the nurse got nothing."""
    from live.headless import AlertConfig, AlertDispatcher

    @dataclasses.dataclass(frozen=True)
    class RunSummary:  # the run's own figures do not matter here
        errors: tuple[str, ...] = ()

    endpoint.answer = lambda body: 400 if body["person"] == 1 else 200
    endpoint.up()
    dispatcher = AlertDispatcher(AlertConfig(classes=("fall_down",), delivery=config(endpoint, tmp_path)),
                                 ("fall_down", "no_action"))
    for person in (1, 2):
        dispatcher.delivery.submit(alert(person))
    dispatcher.close(timeout=10)
    summary = dispatcher.report(RunSummary())
    (rejected,) = summary.errors
    assert rejected.startswith("1 alert(s) rejected by http://127.0.0.1:")

    endpoint.down()  # the endpoint is gone: the next alert waits on disk
    dispatcher = AlertDispatcher(AlertConfig(classes=("fall_down",), delivery=config(endpoint, tmp_path)),
                                 ("fall_down", "no_action"))
    dispatcher.delivery.submit(alert(3))
    dispatcher.close(timeout=0.5)
    (waiting,) = dispatcher.report(RunSummary()).errors
    assert "1 alert(s) not delivered to" in waiting and "for the next start" in waiting

    # A queue file with a damaged line: skipped and logged, and an error of the run as well.
    with (tmp_path / "alerts.jsonl").open("a") as queue:
        queue.write("this is not json\n")
    dispatcher = AlertDispatcher(AlertConfig(classes=("fall_down",), delivery=config(endpoint, tmp_path)),
                                 ("fall_down", "no_action"))
    dispatcher.close(timeout=0.5)
    damaged = [e for e in dispatcher.report(RunSummary()).errors if "damaged" in e]
    aside = tmp_path / "alerts.damaged.txt"
    assert damaged == [f"1 damaged line(s) of {tmp_path / 'alerts.jsonl'} skipped (an alert waiting there "
                       f"may have been among them; the log says which) and moved to {aside}"]
    # Set aside at once: the next run starts clean (not an error of every run after it).
    assert (tmp_path / "alerts.damaged.txt").read_text().endswith("this is not json\n")
    dispatcher = AlertDispatcher(AlertConfig(classes=("fall_down",), delivery=config(endpoint, tmp_path)),
                                 ("fall_down", "no_action"))
    dispatcher.close(timeout=0.5)
    assert not [e for e in dispatcher.report(RunSummary()).errors if "damaged" in e]


# ---- through the running app -----------------------------------------------------------------------

def test_an_alert_posted_and_run_as_a_command_carries_one_id_in_both(endpoint, tmp_path):
    """Whoever gets the POST and the command's page can tell they are one alert: ALERT_ID, and "id" in
    ALERT_JSON, are the POST's Idempotency-Key; ALERT_SEQUENCE and "sequence" its place in the order
    raised."""
    import sys

    import numpy as np

    from live.headless import AlertConfig, AlertDispatcher
    from live.worker import Decision, Hop

    out = tmp_path / "paged.txt"
    script = (f"import os; open({str(out)!r}, 'w')"
              f".write('|'.join(os.environ[k] for k in ('ALERT_ID', 'ALERT_SEQUENCE', 'ALERT_JSON')))")
    endpoint.up()
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), command=f"{sys.executable} -c \"{script}\"",
                                         delivery=config(endpoint, tmp_path)), ("fall_down", "no_action"))
    fell = Decision(1.0, 1.0, 3, (("fall_down", 0.9),), ("full_body",), np.ones(1, np.float32), 0.1)
    alerts.update(Hop(1.0, (fell,)))
    assert alerts.delivery.wait_delivered(10)
    alerts.close(timeout=20)
    paged_id, paged_sequence, paged = out.read_text().split("|", 2)
    assert paged_id == endpoint.ids()[0] == json.loads(paged)["id"]
    assert int(paged_sequence) == endpoint.received[0][0]["sequence"] == json.loads(paged)["sequence"] == 1


def test_headless_run_posts_alerts_and_a_hung_endpoint_never_holds_recognition(endpoint, tmp_path, caplog):
    from model_files import random_checkpoint
    from synthetic_room import TrackedSource

    from core.model.profiles import pose_only, tiny
    from live.app import open_model
    from live.headless import AlertConfig, HeadlessConfig, run_headless
    from live.pipeline import LivePipeline, PipelineConfig
    from live.worker import RecognitionConfig

    classes = ("drink", "wave", "sit_down", "fall_down")
    checkpoint = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(4)), classes, duration_s=1.0)
    engine, inputs = open_model(checkpoint, "pytorch-cpu", threads=1)
    endpoint.answer = lambda body: "hang"  # takes the first alert and never answers
    endpoint.up()
    delivery = config(endpoint, tmp_path, timeout_s=30.0)
    # Every class is an alert class at threshold 0 with no cooldown: an alert per decision (its top class).
    alerts = AlertConfig(classes=classes, threshold=0.0, cooldown_s=0.0, delivery=delivery)
    pipeline = LivePipeline(TrackedSource(), engine, inputs,
                            PipelineConfig(recognition=RecognitionConfig(hop_s=0.2)))
    with caplog.at_level(logging.INFO, logger="live.headless"):
        summary = run_headless(pipeline, HeadlessConfig(output=tmp_path / "decisions.jsonl", alerts=alerts,
                                                        health_every_s=1.0), duration_s=3.0)
    # The service's periodic status line says alerts are waiting (a monitor reads that line).
    status = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status:")]
    assert status[-1].endswith(" being sent")  # held by the endpoint, not failed yet
    # The first alert's POST hangs from the first decision on: every later decision went on beside it.
    (waiting,) = summary.errors  # the run says so: its exit status is 1
    assert "not delivered to" in waiting and summary.decisions >= 2
    assert len(endpoint.received) == 1
    # Which model raised it, as the decision lines say (a site trying a new model in some rooms).
    assert endpoint.received[0][0]["model"] == engine.metadata.checkpoint_sha256[:12]
    queued = [r for r in records(tmp_path / "alerts.jsonl") if r["op"] == "queued"]
    assert len(queued) == summary.decisions  # every alert raised (one per decision: its top class) is on disk
    endpoint.release.set()
    endpoint.answer = lambda body: 200
    restarted = AlertDelivery(delivery)
    assert restarted.wait_delivered(20)
    restarted.close()
    assert [b["id"] for b, _ in endpoint.received[1:]] == [r["id"] for r in queued]


class FullDisk:
    """os.write for the queue file while `full` is set: half the record written, then ENOSPC (a disk that
    fills mid-write); every other write as it is."""

    def __init__(self, monkeypatch) -> None:
        import live.alert_delivery

        self.full = threading.Event()
        self.queue_fd = -1
        write = os.write

        def write_or_fill(fd, data):
            if self.full.is_set() and fd == self.queue_fd:
                write(fd, bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return write(fd, data)

        monkeypatch.setattr(live.alert_delivery.os, "write", write_or_fill)


def one_saved_then_the_disk_full(endpoint, tmp_path, monkeypatch) -> tuple[AlertDelivery, FullDisk]:
    """An endpoint that is down; alert 1 written to the queue, then the disk full for alert 2."""
    disk = FullDisk(monkeypatch)
    endpoint.answer = lambda body: 503  # down: every alert waits
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    disk.queue_fd = delivery.queue._file.fileno()
    delivery.submit({"person": 1})
    assert delivery.flush()
    disk.full.set()
    delivery.submit({"person": 2})
    assert delivery.flush()
    return delivery, disk


def test_an_alert_a_full_disk_refuses_is_said_lost_not_kept_and_the_run_ends_in_order(
        endpoint, tmp_path, monkeypatch, caplog):
    """The disk filled under the queue: the alert stayed in the file's buffer, wrote itself half at the next
    write, made close() raise ENOSPC (the run ended with exit 2 and no summary), and the log said it
    'stays in' a file that had not a byte of it."""
    from live.headless import delivery_status

    delivery, _ = one_saved_then_the_disk_full(endpoint, tmp_path, monkeypatch)
    # Said while it lasts, in the status lines (headless, the window's): one fewer alert to lose.
    status = delivery_status(SimpleNamespace(delivery=delivery, command_failing=False))
    assert f"1 NOT SAVED to {tmp_path / 'alerts.jsonl'} (lost if the app stops)" in status
    delivery.close(0.0)  # still full: raises nothing
    assert (delivery.pending, delivery.lost) == (2, 1)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "1 alert(s) not delivered" in messages and "they stay in" in messages
    assert "1 alert(s) not delivered to" in messages and "are lost" in messages
    lines = (tmp_path / "alerts.jsonl").read_bytes().splitlines(keepends=True)
    assert all(line.endswith(b"\n") and json.loads(line) for line in lines)  # no half record
    assert [json.loads(line)["alert"]["person"] for line in lines] == [1]


def test_an_alert_the_full_disk_refused_is_written_once_it_has_room_again(endpoint, tmp_path, monkeypatch):
    disk = FullDisk(monkeypatch)
    endpoint.answer = lambda body: 503
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    disk.queue_fd = delivery.queue._file.fileno()
    disk.full.set()
    delivery.submit({"person": 1})
    assert delivery.flush()
    disk.full.clear()  # room again (old recordings deleted): written by the next alert, or at the stop
    delivery.submit({"person": 2})
    assert delivery.flush()
    delivery.close(0.0)
    assert delivery.lost == 0
    again = AlertDelivery(config(endpoint, tmp_path))
    assert sorted(record["alert"]["person"] for record in again.queue.pending) == [1, 2]
    again.close(0.0)


def test_a_key_in_the_url_s_query_reaches_the_endpoint_and_no_log(endpoint, tmp_path, caplog):
    """?api_key=... is how some receivers take their key: it was in every delivery log line (start-up,
    failures, shutdown, summary), and so in the log collector."""
    answers = iter([503, 200])
    endpoint.answer = lambda body: next(answers)
    endpoint.up()
    with caplog.at_level(logging.INFO, logger="live.alert_delivery"):
        keyed = dataclasses.replace(config(endpoint, tmp_path), url=endpoint.url + "?api_key=S3CRET")
        delivery = AlertDelivery(keyed)
        delivery.submit(alert(1))
        assert delivery.wait_delivered(20)
        delivery.close()
    assert delivery.config.shown_url == endpoint.url + "?…"
    webhook = DeliveryConfig("https://chat.example/hooks/T0123/B0456/XXXXSECRETTOKEN")  # the key in the path
    assert webhook.shown_url == "https://chat.example/hooks/…"
    assert shown_url("https://chat.example/alerts;jsessionid=S3CRET") == "https://chat.example/alerts;…"
    assert shown_url("https://chat.example/;jsessionid=S3CRET") == "https://chat.example/;…"
    assert shown_url("https://user:S3CRET@chat.example/a") == "https://…@chat.example/a"
    assert shown_url("https://chat.example") == "https://chat.example"
    assert shown_url("https://chat.example/") == "https://chat.example/"
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "failed" in said and "works again" in said and "S3CRET" not in said


def test_alerts_and_credentials_sent_unencrypted_over_the_network_are_warned_of(caplog):
    with caplog.at_level(logging.WARNING, logger="live.alert_delivery"):
        DeliveryConfig("http://127.0.0.1:8080/alerts", authorization="Bearer x")  # on this machine: fine
        assert not caplog.records
        DeliveryConfig("https://nurse-call.example/alerts", authorization="Bearer x")
        assert not caplog.records
        DeliveryConfig("http://nurse-call.example/alerts", authorization="Bearer x")
        # Without credentials too: whoever is on the way can answer 200 for an alert that never arrives.
        DeliveryConfig("http://nurse-call.example/alerts")
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("--alert-auth-file: the credentials go to http://nurse-call.example/alerts "
                              "unencrypted (http://)")
    assert said[1].startswith("--alert-url: alerts go to http://nurse-call.example/alerts unencrypted")


@pytest.mark.parametrize("answer", ["drip", "drip 400", "drip body"])
def test_an_answer_that_never_ends_fails_the_post_at_its_timeout(endpoint, tmp_path, caplog, answer):
    """The timeout bounded each read, not the POST: an endpoint sending a header line every 2 s held that
    alert, and every later one, with no failure counted to say so. A status line alone is no answer
    either: a 400 cut short does not reject the alert for good."""
    endpoint.answer = lambda body: answer if len(endpoint.received) == 1 else 200
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path, timeout_s=0.6))
    with caplog.at_level(logging.WARNING, logger="live.alert_delivery"):
        delivery.submit(alert(1))
        assert delivery.wait_delivered(10)  # (the answer goes on for as long as the test: 10 s and more)
    delivery.close()
    assert delivery.failures == 1 and len(endpoint.received) == 2
    assert "no whole answer within 0.6 s (--alert-timeout; later alerts wait behind this one)" in " ".join(
        r.getMessage() for r in caplog.records)


def test_a_post_answered_as_its_time_ran_out_is_not_cut_nor_the_next_one(endpoint, tmp_path):
    """One deadline for all POSTs: a watchdog that woke as its POST was answered marked the next POST
    expired (74 of 3,000 answered at the deadline), which then failed at once."""
    from live.alert_delivery import _PostDeadline

    answered = _PostDeadline(0.05)
    watchdog = threading.Thread(target=answered.enforce)
    with answered._lock:  # the watchdog wakes while the sender holds the lock to say it has returned
        watchdog.start()
        time.sleep(0.1)
        answered._returned.set()
    watchdog.join(5)
    assert not watchdog.is_alive() and answered.finish() is False  # not cut: answered in time
    # Each POST its own: a late watchdog has nothing of the next one's to cut.
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    deadlines = []
    for person in (1, 2):
        delivery.submit(alert(person))
        assert delivery.wait_delivered(10)
        deadlines.append(delivery._post_deadline)
    delivery.close()
    assert deadlines[0] is not deadlines[1] and not any(d.finish() for d in deadlines)
    assert delivery.failures == 0


def test_no_thread_for_a_posts_deadline_is_a_failure_tried_again_not_a_rejected_alert(
        endpoint, tmp_path, monkeypatch):
    """The machine out of threads as the watchdog starts: the alert was set aside as rejected, a fall
    never sent again."""
    import live.alert_delivery

    start = threading.Thread.start
    refusals = []

    def start_or_refuse(thread):
        if thread.name == "alert-post-deadline" and not refusals:
            refusals.append(thread)
            raise RuntimeError("can't start new thread")
        return start(thread)

    monkeypatch.setattr(live.alert_delivery.threading.Thread, "start", start_or_refuse)
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    delivery.submit(alert(1))
    assert delivery.wait_delivered(10)
    delivery.close()
    assert refusals and delivery.failures == 1 and delivery.rejected == 0 and len(endpoint.received) == 1


def test_a_receiver_on_this_machine_is_not_reached_through_the_proxy(endpoint, tmp_path, monkeypatch, caplog):
    """http_proxy sent a local receiver's alerts, and the Authorization header, to the proxy in clear (and
    its 200 counted them delivered)."""
    proxy = Endpoint().up()
    try:
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        endpoint.up()
        delivery = AlertDelivery(config(endpoint, tmp_path, authorization="Bearer S3CRET"))
        delivery.submit(alert(1))
        assert delivery.wait_delivered(10)
        delivery.close()
        assert len(endpoint.received) == 1 and proxy.received == []
        # Another host goes through it, as the site's network has it, and the log says so.
        monkeypatch.setenv("https_proxy", "http://proxy.hospital.example:3128")
        with caplog.at_level(logging.INFO, logger="live.alert_delivery"):
            AlertDelivery(DeliveryConfig("https://nurse-call.example/alerts",
                                         queue_path=tmp_path / "other.jsonl")).close()
        assert ("alerts go to https://nurse-call.example/alerts through the proxy "
                "http://proxy.hospital.example:3128 (https_proxy") in caplog.text
    finally:
        proxy.down()


def test_a_queue_deleted_under_the_app_is_made_again_with_the_alerts_still_undelivered(
        endpoint, tmp_path, caplog):
    """A clean-up script removed runs/alerts/queue.jsonl: later alerts went into the deleted file, and the
    stop said the undelivered ones wait in a file that was gone."""
    endpoint.answer = lambda body: 503
    endpoint.up()
    delivery = AlertDelivery(config(endpoint, tmp_path))
    delivery.submit({"person": 1})
    assert delivery.flush()
    (tmp_path / "alerts.jsonl").unlink()
    with caplog.at_level(logging.ERROR, logger="live.alert_delivery"):
        delivery.submit({"person": 2})
        assert delivery.flush()
    delivery.close(0.0)
    assert "alerts.jsonl was deleted while the app ran" in caplog.text
    again = AlertDelivery(config(endpoint, tmp_path))
    assert [record["alert"]["person"] for record in again.queue.pending] == [1, 2]
    assert again.queue.next_sequence == 3  # numbered on from where it was
    again.close(0.0)


def test_a_queue_whose_folder_was_deleted_says_its_alerts_lost_not_kept(endpoint, tmp_path):
    import shutil

    endpoint.answer = lambda body: 503
    endpoint.up()
    folder = tmp_path / "alerts"
    delivery = AlertDelivery(config(endpoint, tmp_path, queue_path=folder / "alerts.jsonl"))
    delivery.submit({"person": 1})
    assert delivery.flush()
    shutil.rmtree(folder)  # the file it was in is gone, and no new one can be made
    delivery.submit({"person": 2})
    assert delivery.flush()
    assert delivery.unsaved == 2
    delivery.close(0.0)  # raises nothing
    assert (delivery.pending, delivery.lost) == (2, 2)


def test_delivered_lines_waiting_on_a_disk_that_then_fills_end_the_stop_in_order(
    endpoint, tmp_path, monkeypatch
):
    # close() raised ENOSPC out of the run's end (no summary, the queue left open and locked).
    import live.alert_delivery

    monkeypatch.setattr(live.alert_delivery, "SUBMITTED_BACKLOG", 2)
    endpoint.up()
    full = FullDisk(monkeypatch)
    delivery = AlertDelivery(config(endpoint, tmp_path))
    full.queue_fd = delivery.queue._file.fileno()
    disk = HungDisk(delivery)
    for person in range(4):  # one held by the hung write, two in the hand-off, one past it
        delivery.submit(alert(person))
    assert disk.entered.wait(5)
    assert delivery.wait_delivered(10) and delivery._marks_waiting  # sent; their lines wait
    full.full.set()
    disk.release.set()
    delivery.close(1.0)  # raises nothing
    assert delivery._closed and delivery.delivered == 4


def test_an_unsaved_alert_and_a_deleted_queue_at_the_stop_are_written_once(endpoint, tmp_path, monkeypatch):
    """The disk filled (an alert in memory only), then a clean-up deleted the queue to free space, and the
    app stopped: making the file again wrote the alert, then writing it again raised KeyError out of
    close(), the file left open and locked."""
    delivery, disk = one_saved_then_the_disk_full(endpoint, tmp_path, monkeypatch)
    assert delivery.unsaved == 1
    disk.full.clear()
    (tmp_path / "alerts.jsonl").unlink()
    delivery.close(0.0)
    assert delivery.lost == 0
    queued = [r["alert"]["person"] for r in records(tmp_path / "alerts.jsonl") if r["op"] == "queued"]
    assert sorted(queued) == [1, 2]  # each once
    AlertDelivery(config(endpoint, tmp_path)).close(0.0)  # the lock was let go


def test_a_run_without_alert_url_says_that_alerts_of_an_earlier_run_wait_undelivered(
    tmp_path, monkeypatch, caplog
):
    """A room moved from --alert-url to --alert-command left its undelivered alerts in the queue file,
    never mentioned again."""
    from live.alert_delivery import DEFAULT_QUEUE, undelivered_in
    from live.app import _alerts_for, build_parser, config_from_args

    monkeypatch.chdir(tmp_path)
    queue = tmp_path / DEFAULT_QUEUE
    queue.parent.mkdir(parents=True)
    lines = [{"op": "queued", "id": f"a{n}", "alert": alert(n), "sequence": n, "queued_at": 1.0e9}
             for n in (1, 2, 3)]
    lines.append({"op": "delivered", "id": "a2", "sequence": 2, "status": 200, "at": 1.0e9})
    queue.write_text("".join(json.dumps(r) + "\n" for r in lines) + "not json\n")
    assert undelivered_in(queue) == 2 and undelivered_in(tmp_path / "absent.jsonl") == 0
    config = config_from_args(build_parser().parse_args(["--headless", "--alert-command", "true"]))
    with caplog.at_level(logging.WARNING, logger="live.app"):
        _alerts_for(config, ("no_action", "fall_down"))
    said = f"{queue} holds 2 alert(s) an earlier run could not deliver; this run has no --alert-url"
    assert said in caplog.text
    assert queue.read_text().endswith("not json\n")  # read only: nothing set aside or written
    # A room running now from the same folder holds the queue and is sending them: not an earlier run's.
    held = AlertQueue(queue)
    assert undelivered_in(queue) == 0
    held.close()
    assert undelivered_in(queue) == 2


def test_a_lock_the_file_system_refuses_is_said_as_such_not_as_in_use(tmp_path, monkeypatch):
    """NFS without its lock daemon answers ENOLCK: the queue was 'in use by another process' (exit 75, tried
    again every 10 s for ever), and the start-up check, which took only a hold for 'in use', let the source
    and the model load first. Another's hold (EWOULDBLOCK) is 'in use', at the check."""
    import errno

    import core.locks
    import live.alert_delivery
    from live.alert_delivery import queue_held, refuse_a_held_queue

    queue = tmp_path / "alerts.jsonl"
    AlertQueue(queue).close()  # its lock file made, as a run leaves it
    answers = {"held": BlockingIOError(errno.EWOULDBLOCK, "Resource temporarily unavailable"),
               "no locks": OSError(errno.ENOLCK, "No locks available")}
    for case, error in answers.items():
        def refuse(handle, error=error):
            raise error

        monkeypatch.setattr(live.alert_delivery, "lock_exclusive", refuse)  # the queue's own lock
        monkeypatch.setattr(core.locks, "lock_exclusive", refuse)  # the check's (core.locks.held_by_another)
        assert queue_held(queue) is (True if case == "held" else None)
        if case == "held":
            with pytest.raises(QueueInUse, match="in use by another process"):
                refuse_a_held_queue(queue)
            continue
        refuse_a_held_queue(queue)  # tells nothing: the queue's own lock says what is wrong
        with pytest.raises(OSError, match="cannot be locked .*No locks available.*on a local disk") as said:
            AlertQueue(queue)
        assert not isinstance(said.value, QueueInUse)


def test_an_endpoint_that_cannot_be_reached_is_said_before_any_alert_and_again_once_it_can(
    endpoint, tmp_path, monkeypatch, caplog
):
    """A wrong URL or a receiver that is down was found only by the first fall, days later in a quiet room:
    with nothing to send, the endpoint is connected to (no request: nothing pages) at start and then
    every REACHABLE_EVERY_S."""
    import logging

    import live.alert_delivery
    from live.headless import delivery_status

    monkeypatch.setattr(live.alert_delivery, "REACHABLE_EVERY_S", 0.2)
    with caplog.at_level(logging.INFO, logger="live.alert_delivery"):
        delivery = AlertDelivery(config(endpoint, tmp_path))
        deadline = time.monotonic() + 5
        while delivery.unreachable is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert delivery.unreachable is not None and "Connection refused" in delivery.unreachable
        dispatcher = type("Dispatcher", (), {"delivery": delivery, "command_failing": False})()
        assert delivery_status(dispatcher) == [f"ALERT ENDPOINT UNREACHABLE ({delivery.unreachable})"]
        endpoint.up()
        while delivery.unreachable is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert delivery.unreachable is None and delivery_status(dispatcher) == []
        assert endpoint.received == []  # connected to, never posted to
        delivery.close(0.0)
    said = [r.getMessage() for r in caplog.records if "reached" in r.getMessage()]
    assert len(said) == 2 and "cannot be reached" in said[0] and said[1].endswith("can be reached again")



def test_an_idle_check_that_fails_after_an_alert_was_answered_does_not_say_unreachable(
    endpoint, tmp_path, monkeypatch
):
    """The check's connection may take its 5 s to fail; a POST answered meanwhile proved the endpoint
    reached, and the check's late failure said "ALERT ENDPOINT UNREACHABLE" for a minute all the same."""
    import live.alert_delivery

    endpoint.up()
    entered, release, real_connect = threading.Event(), threading.Event(), socket.create_connection

    def slow_failing_connect(address, *args, **kwargs):
        if threading.current_thread().name != "alert-reachability":  # the POSTs' own
            return real_connect(address, *args, **kwargs)
        entered.set()
        release.wait(5)
        raise TimeoutError("timed out")

    monkeypatch.setattr(live.alert_delivery.socket, "create_connection", slow_failing_connect)
    delivery = AlertDelivery(config(endpoint, tmp_path))
    assert entered.wait(5)
    delivery.submit(alert(1))
    assert delivery.wait_delivered(5)  # answered while the check still waits
    release.set()
    time.sleep(0.3)
    assert delivery.delivered == 1 and delivery.unreachable is None
    delivery.close(0.0)


def test_an_https_proxy_refusing_its_login_is_said_as_a_setting_to_fix(tmp_path, monkeypatch, caplog):
    """Through a proxy an https:// POST is tunnelled: the proxy's 407 to CONNECT came as an OSError,
    retried under a WARNING like a network blip, never the ERROR that says to fix the credentials."""
    import socketserver

    class Refusing(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while self.rfile.readline() not in (b"\r\n", b""):  # CONNECT nurse-call.example:443 ...
                pass
            self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        delivery = AlertDelivery(DeliveryConfig("https://nurse-call.example/alerts",
                                                queue_path=tmp_path / "q", backoff_s=0.05, max_backoff_s=0.1,
                                                jitter=0.0))
        with caplog.at_level(logging.WARNING, logger="live.alert_delivery"):
            delivery.submit(alert(1))
            wait_for(lambda: delivery.failures >= 1)
        assert delivery._tls_host is None  # the idle check reaches the proxy, whose TLS is not the receiver's
        delivery.close(0.0)
    finally:
        proxy.shutdown()
        proxy.server_close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("the proxy answered Tunnel connection failed: 407" in e and "--alert-auth-file" in e
               for e in errors)
    assert delivery.rejected == 0  # kept, as for any 407, until the login is fixed


def test_a_receiver_certificate_this_machine_does_not_trust_is_said_before_any_alert(
    tmp_path, monkeypatch, caplog
):
    """The idle check only connected: a receiver whose certificate the room computer does not trust (the
    hospital's own authority, not installed) looked reachable, and the first fall's POST failed."""
    import ssl

    import live.alert_delivery

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(live.alert_delivery, "REACHABLE_EVERY_S", 0.2)
    url = f"https://localhost:{server.server_address[1]}/alerts"
    try:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with caplog.at_level(logging.WARNING, logger="live.alert_delivery"):
            delivery = AlertDelivery(DeliveryConfig(url, queue_path=tmp_path / "q"))
            wait_for(lambda: delivery.unreachable is not None)
            delivery.close(0.0)
        assert "its certificate is not trusted here" in delivery.unreachable
        assert "SSL_CERT_FILE" in caplog.text and "answers, but" in caplog.text
        delivery._check_reachable()  # checked again, still not trusted: said once, not every minute
        assert caplog.text.count("answers, but") == 1
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the site's authority, as the README says
        delivery = AlertDelivery(DeliveryConfig(url, queue_path=tmp_path / "q2"))
        delivery.unreachable = "not checked yet"
        delivery._check_reachable()  # the idle check, now: trusted, and reached
        assert delivery.unreachable is None
        delivery.close(0.0)
    finally:
        server.shutdown()
        server.server_close()
