"""benchmarks/engines.py: the targets it judges, on measurements made up for the purpose (timing runs belong
to the benchmark itself, not to the tests)."""

from __future__ import annotations

from benchmarks.engines import check_targets


def measurement(profile: str, people: int, p50_ms: float, skeleton_only: bool) -> dict:
    return {"profile": profile, "backend": "onnxruntime-cpu", "people": people, "p50_ms": p50_ms,
            "skeleton_only": skeleton_only}


def test_the_skeleton_targets_are_judged_on_a_trained_skeleton_only_checkpoint_too() -> None:
    """README's row for pku_interactions.pt said "met" while the script printed UNMEASURED: a --checkpoint
    run is profile "custom", and only the profile named "skeleton" was looked for."""
    targets = check_targets([measurement("custom", 6, 1.9, True)], {})
    skeleton = [t for t in targets if "6 people" in t["target"]]
    assert [(t["value"], t["met"]) for t in skeleton] == [(1.9, True), (1.9, True)]
    slow = check_targets([measurement("skeleton", 6, 14.8, True)], {})
    assert [t["met"] for t in slow if "6 people" in t["target"]] == [True, False]  # <= 20 ms, not <= 10 ms
    colour = check_targets([measurement("custom", 6, 1.0, False)], {})  # a model that crops colour
    assert [t["met"] for t in colour if "6 people" in t["target"]] == [None, None]


def test_with_several_skeleton_networks_the_skeleton_profile_is_the_one_judged() -> None:
    """`--profiles skeleton_lstm skeleton` (the command profiles.skeleton's docstring gives): the LSTM,
    measured first, was judged against the skeleton stream's targets."""
    measured = [measurement("skeleton_lstm", 6, 30.0, True), measurement("skeleton", 6, 4.0, True)]
    targets = check_targets(measured, {})
    assert [t["value"] for t in targets if "6 people" in t["target"]] == [4.0, 4.0]


def test_the_engines_benchmark_imports_where_there_is_no_resource_module(monkeypatch) -> None:
    """`resource` is POSIX only: the README's tool for choosing an engine stopped at its import on Windows,
    the machine it is meant for."""
    import sys

    from benchmark_modules import load_benchmark

    # Executed anew from its file (a reload of the imported module failed where test_engines.py had loaded
    # it by path first: no `benchmarks` package to reload it in).
    monkeypatch.setitem(sys.modules, "resource", None)  # import resource raises ImportError
    assert load_benchmark("engines").check_targets is not None
