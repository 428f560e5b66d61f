"""Sampling profiles of the workers during a run (py-spy), summarised as hot functions.

`python -m bench.profile FILE.txt [N]` prints the top N of a saved collapsed-stack profile.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import tool

LINE_NO = re.compile(r":\d+\)$")


@dataclass
class Recorder:
    processes: list[subprocess.Popen[bytes]]
    outputs: list[Path]


def start(pids: list[int], prefix: Path, *, seconds: float, cpus: str) -> Recorder:
    """py-spy record each pid for `seconds`, pinned to `cpus`, in collapsed-stack format."""
    spy = tool("py-spy", "pip install py-spy")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    processes, outputs = [], []
    for pid in pids:
        out = prefix.with_name(f"{prefix.name}-{pid}.txt")
        command = [tool("taskset"), "-c", cpus, spy, "record", "--pid", str(pid), "--format", "raw"]
        command += ["--duration", str(max(1, int(seconds))), "--rate", "200", "-o", str(out)]
        command += ["--gil", "--nonblocking"]  # CPU held by Python; never pause the worker
        processes.append(
            subprocess.Popen(  # noqa: S603 - a fixed argv of our own, no shell
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        outputs.append(out)
    return Recorder(processes, outputs)


def finish(recorder: Recorder) -> None:
    for process in recorder.processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    for out in recorder.outputs:
        if out.exists():
            out.with_suffix(".top.txt").write_text(summary(out))


def _frame(frame: str) -> str:
    return LINE_NO.sub(")", frame.strip())  # one entry per function, not per line


def summary(path: Path, top: int = 30) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for text in path.read_text().splitlines():
        stack, _, count_text = text.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples\n"
    out = [f"{total} samples", "", "self time:"]
    out += [f"{100 * n / total:6.1f}%  {name}" for name, n in own.most_common(top)]
    out += ["", "inclusive time:"]
    out += [f"{100 * n / total:6.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out) + "\n"


def main() -> None:
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    print(summary(Path(sys.argv[1]), top), end="")


if __name__ == "__main__":
    main()
