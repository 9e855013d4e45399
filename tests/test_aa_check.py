"""The A/A script's two rules for whether two runs agree on a model's saturation batch (benchmarks/aa_check.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlplayground.bench.saturation import Saturation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from aa_check import knee_agreement  # noqa: E402


def sat(batch: int, low: int, high: int) -> Saturation:
    return Saturation(model="m", device="cpu", dtype="float32", eps=0.05, saturation_batch=batch, ci_low=low,
                      ci_high=high, ci_level=0.95, best_batch=high, best_throughput_items_s=1.0, at_sweep_edge=False)


@pytest.mark.parametrize(("a", "b", "issue", "design"), [
    (sat(64, 32, 128), sat(128, 64, 256), True, True),     # each inside the other, one doubling apart
    (sat(64, 64, 128), sat(256, 64, 512), False, False),  # 256 outside A's interval; two doublings apart
    (sat(64, 16, 256), sat(64, 32, 128), False, True),    # A's interval spans four doublings
    (sat(32, 16, 32), sat(64, 32, 128), False, True),     # 64 outside A's; one doubling apart, overlapping
    (sat(16, 16, 16), sat(16, 16, 16), True, True),
])
def test_both_rules(a, b, issue, design):
    got_issue, got_design, why = knee_agreement(a, b)
    assert (got_issue, got_design) == (issue, design)
    assert knee_agreement(b, a)[:2] == (issue, design)  # symmetric
    assert (why == "") == issue
