"""Markdown tables from result files: `python -m bench.report bench/results/X.json [...]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _cell(run: dict[str, Any]) -> tuple[str, str, str]:
    latency = run["latency_ms"]
    return f"{run['rps']:,.0f}", f"{latency['p50']:.1f}", f"{latency['p99']:.1f}"


def table(results: dict[str, Any]) -> str:
    rows = [
        "| scenario | target /s | max /s | p50 ms | p99 ms | at target /s | p50 ms | p99 ms "
        "| errors | server CPU ms/req | other load (cores) | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, entry in results["scenarios"].items():
        best, at, verdict = entry["runs"]["max"], entry["runs"]["at_target"], entry["verdict"]
        other = max(best.get("foreign_cpu_cores", 0.0), at.get("foreign_cpu_cores", 0.0))
        met = "yes" if verdict["met"] else "**no**"
        rows.append(
            f"| {name} | {verdict['target_rps']:,.0f} | {' | '.join(_cell(best))} | "
            f"{' | '.join(_cell(at))} | {verdict['errors']} | "
            f"{best.get('server_cpu_ms_per_request', 0.0):.2f} | {other:.2f} | {met} |"
        )
    return "\n".join(rows)


def main() -> None:
    for name in sys.argv[1:]:
        results = json.loads(Path(name).read_text())
        print(f"{name} (commit {results.get('source', {}).get('commit', '?')[:10]})\n")
        print(table(results))
        print()


if __name__ == "__main__":
    main()
