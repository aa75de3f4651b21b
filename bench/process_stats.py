"""Measuring a tool run as a subprocess, shared by the benchmarks in this folder.

``python bench/<bench>.py _measure RESULT.json STDOUT STDERR TIMEOUT -- CMD...`` runs CMD in a fresh
wrapper process and writes its wall time, CPU time, peak RSS and peak tree PSS to RESULT.json.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def shard_paths(shards: Path) -> list[Path]:
    return sorted(shards.glob("part-*.parquet"))


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children[ppid].append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def cpu_and_hwm(pid: int) -> tuple[float, int] | None:
    """(user+sys CPU seconds, peak RSS bytes) of one live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        hwm = 0
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                    break
    except (OSError, IndexError, ValueError):
        return None
    return cpu, hwm


def busy_cpu_seconds() -> float:
    """CPU seconds spent by the whole machine (all cores, not idle / iowait) since boot."""
    with open("/proc/stat", "rb") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def measure_main(argv: Sequence[str], interval: float = 0.1) -> None:
    """``_measure RESULT.json STDOUT STDERR TIMEOUT -- CMD...``: run CMD, record time and memory.

    ``getrusage(RUSAGE_CHILDREN)`` only sees descendants that were waited for; tools whose worker
    processes are never reaped by their parent (datatrove's forkserver pool) would look nearly free.
    So /proc is also sampled every 100 ms: per process CPU time and peak RSS (VmHWM), and the sum of
    PSS over the tree. The reported CPU and max RSS are the larger of the two sources.
    """
    result_path, out_path, err_path, timeout = argv[0], argv[1], argv[2], float(argv[3])
    cmd = list(argv[5:])
    peak_pss = 0
    per_pid: dict[int, tuple[float, int]] = {}
    timed_out = False
    load_before = os.getloadavg()[0]
    busy_before = busy_cpu_seconds()
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            Path(result_path).write_text(json.dumps({"rc": 127, "error": str(exc)}))
            return
        while proc.poll() is None:
            tree = descendants(proc.pid)
            peak_pss = max(peak_pss, sum(pss_bytes(p) for p in tree))
            for pid in tree:
                sample = cpu_and_hwm(pid)
                if sample is not None:
                    per_pid[pid] = sample
            if time.perf_counter() - t0 > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(interval)
    wall = time.perf_counter() - t0
    busy = busy_cpu_seconds() - busy_before
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampled_cpu = sum(cpu for cpu, _ in per_pid.values())
    sampled_hwm = max((hwm for _, hwm in per_pid.values()), default=0)
    cpu = max(ru.ru_utime + ru.ru_stime, sampled_cpu)
    Path(result_path).write_text(
        json.dumps(
            {
                "rc": proc.returncode,
                "timed_out": timed_out,
                "wall_s": wall,
                "cpu_s": cpu,
                "max_rss_mib": max(ru.ru_maxrss / 1024, sampled_hwm / 2**20),  # ru_maxrss: KiB on Linux
                "tree_pss_mib": peak_pss / 2**20,
                "processes_seen": len(per_pid),
                "load_before": load_before,
                "other_cores": max(busy - cpu, 0.0) / wall if wall > 0 else 0.0,
            }
        )
    )


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def tail(path: Path, n: int = 3) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])[-400:]


def measure_command(cmd: Sequence[str], logs: Path, timeout: float = 24 * 3600) -> tuple[dict[str, Any], str, str]:
    """Run ``cmd`` under a fresh wrapper process (this file's ``_measure``) and return its stats
    (``measure_main``), stdout and stderr. The wrapper matters for the peak RSS: a child spawned
    straight from a benchmark that holds gigabytes (the data it generated) reports the parent's
    peak as its own ``ru_maxrss`` (Linux carries the high-water mark across fork and exec)."""
    logs.mkdir(parents=True, exist_ok=True)
    result, out, err = logs / "result.json", logs / "stdout", logs / "stderr"
    wrapper = [sys.executable, str(Path(__file__).resolve()), "_measure", str(result), str(out), str(err)]
    subprocess.run([*wrapper, str(timeout), "--", *cmd], check=True)
    return json.loads(result.read_text()), out.read_text(), err.read_text()


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "_measure":
    measure_main(sys.argv[2:])
