"""Running figures of the status line and the summary (live/stats.py)."""

from __future__ import annotations

import sys

import pytest

from live.stats import LatencyHistogram, RateMeter, resident_memory_bytes


def test_latency_percentiles_are_read_to_the_millisecond_over_the_whole_run():
    latency = LatencyHistogram(max_s=1.0, recent=3)
    assert latency.percentile(50) is None and latency.recent_percentile(50) is None
    for ms in range(1, 101):  # 1 ms ... 100 ms, once each
        latency.add(ms / 1000 - 0.0005)
    assert latency.percentile(50) == pytest.approx(0.050)
    assert latency.percentile(95) == pytest.approx(0.095)
    assert latency.percentile(100) == pytest.approx(0.0995)  # never above the largest value seen
    # The status line follows the recent values only.
    assert latency.recent_percentile(50) == pytest.approx(0.0985)


def test_a_percentile_of_the_last_seconds_forgets_a_load_that_has_gone(monkeypatch):
    """Decisions late once and none since (nobody in view, a replay ended) kept a warning for ever."""
    import live.stats

    now = [1000.0]
    monkeypatch.setattr(live.stats.time, "monotonic", lambda: now[0])
    latency = LatencyHistogram()
    for i in range(5):
        now[0] = 1000.0 + i
        latency.add(1.2)
    assert latency.percentile_within(95, 10.0, at_least=5) == pytest.approx(1.2)
    assert latency.percentile_within(95, 10.0, at_least=6) is None  # too few to say
    now[0] = 1012.0  # two of them older than 10 s
    assert latency.percentile_within(95, 10.0, at_least=5) is None
    assert latency.recent_percentile(95) == pytest.approx(1.2)  # the status line's figure is by count


def test_a_latency_beyond_the_histogram_counts_in_its_last_bin():
    latency = LatencyHistogram(max_s=0.1)
    latency.add(0.01)
    latency.add(5.0)  # a stall of seconds: counted, and the maximum says how long
    assert latency.count == 2 and latency.max_s == 5.0
    assert latency.percentile(50) == pytest.approx(0.011)
    assert latency.percentile(100) == pytest.approx(0.101)


def test_the_frame_rate_is_that_of_the_last_second():
    now = [100.0]
    fps = RateMeter(window_s=1.0, clock=lambda: now[0])
    assert fps.rate() == 0.0
    for i in range(31):
        fps.tick(at=99.0 + i / 30)
    assert fps.rate() == pytest.approx(30.0)
    now[0] = 103.0  # the sensor stopped: the rate falls to 0, not stays at the last figure
    assert fps.rate() == 0.0


def test_resident_memory_is_a_plausible_size_where_the_platform_tells_it():
    rss = resident_memory_bytes()
    if rss is None:  # Linux has /proc/self/statm and macOS getrusage: only elsewhere may it be unknown
        assert not sys.platform.startswith(("linux", "darwin")), "the platform tells it"
        pytest.skip(f"no resident memory size on {sys.platform}")
    assert 10e6 < rss < 100e9


def test_a_cgroup_s_memory_left_does_not_count_the_cache_it_can_drop(tmp_path) -> None:
    """A service that has just written video holds gigabytes of page cache, which the kernel drops before
    it kills: counted as used, a restart saw too little memory for its frame ring. And in a container
    without a cgroup namespace (Docker on cgroup v1) the host's path to its group is not there: its limit
    was not seen at all."""
    from live.stats import _cgroup_memory_left

    def files(folder, **contents):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in contents.items():
            (folder / name.replace("_", ".", 1)).write_text(text)

    membership = tmp_path / "cgroup"
    membership.write_text("4:memory:/docker/abc123\n0::/\n")
    files(tmp_path / "memory", memory_limit_in_bytes="1000000000\n", memory_usage_in_bytes="900000000\n",
          memory_stat="cache 650000000\ntotal_inactive_file 600000000\n")
    assert _cgroup_memory_left(str(tmp_path), str(membership)) == 700_000_000
    membership.write_text("0::/system.slice/wtf.service\n")
    files(tmp_path / "system.slice" / "wtf.service", memory_max="2000000000\n", memory_current="1500000000\n",
          memory_stat="anon 900000000\ninactive_file 500000000\n")
    assert _cgroup_memory_left(str(tmp_path), str(membership)) == 1_000_000_000
    (tmp_path / "system.slice" / "wtf.service" / "memory.stat").unlink()  # a kernel without it: no cache
    assert _cgroup_memory_left(str(tmp_path), str(membership)) == 500_000_000
    (tmp_path / "system.slice" / "wtf.service" / "memory.max").write_text("max\n")
    assert _cgroup_memory_left(str(tmp_path), str(membership)) is None  # no limit
