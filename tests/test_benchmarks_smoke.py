"""The benchmark harness runs end to end (tiny sizes, one endpoint) and every
scenario delivers what it sent. Benchmarks are not tests: no figure is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_harness_runs_quick(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--endpoints",
            "instant",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = json.loads(out.read_text())
    scenarios = {(r["endpoint"], r["scenario"]) for r in result["rows"]}
    for name in ("peer", "naive", "bare-batch", "sr_sec_async", "sr_sec_async-ff"):
        assert ("instant", name) in scenarios
    for name in ("ticker-alone", "bare-batch", "sr_sec_async"):
        assert ("instant-lag", name) in scenarios
    for row in result["rows"]:
        assert row["delivered"] == row["events"] > 0, row
    assert result["memory"]["bytes_per_event"] > 0
    assert [r["ids"] for r in result["record_access"]] == [1, 100, 10_000]
    assert {"caller_vs_peer", "throughput_vs_bare", "ticker_p99_ms"} <= set(result["ratios"])
