"""Work stealing (issue 14, target 4): ``zsmc check --jobs 2`` against serial, with
the processes' CPU time, so the balance shows on a shared machine too.

    python -m bench.bench_steal --scenario free-deferred [--depth 2] [--variant upstream]

Runs ``zsmc check --variant V --depth D --scenario S... --format json``
serially and with ``--jobs 2``, and prints per scenario the executions and
redundant runs of both (they must be equal), the wall times, the load
average around each run, and for the ``--jobs 2`` run the CPU time of each
worker process (read from /proc while it runs).  On a machine others use,
the wall-time ratio says as much about them as about the split; the
*balance*, serial CPU time over the busiest worker's, is what the wall-time
ratio would be on two idle cores (less the coordinator's and the
start-up's share, which the serial run pays too).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK, int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def _watch(root: int, seen: dict, done: threading.Event) -> None:
    """The CPU time of every process below ``root``, last value seen."""
    while not done.is_set():
        for name in os.listdir("/proc"):
            if name.isdigit():
                got = _cpu(int(name))
                if got is not None and (got[1] == root or got[1] in seen):
                    seen[int(name)] = got[0]
        done.wait(0.2)


def run(args) -> dict:
    cmd = [os.path.join(os.path.dirname(sys.executable), "zsmc"), "check", "--format", "json"] + args
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen, done = {}, threading.Event()
    watcher = threading.Thread(target=_watch, args=(proc.pid, seen, done), daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    wall = time.monotonic() - start
    done.set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    docs, dec, i = [], json.JSONDecoder(), 0
    while i < len(out):
        while i < len(out) and out[i].isspace():
            i += 1
        if i < len(out):
            d, i = dec.raw_decode(out, i)
            docs.append(d)
    report = docs[-1]
    counts = [(f"{s['params']['scenario']} ({s['params']['cpus']} CPU)", s["executions"], s["redundant"])
              for s in report["scenarios"]]
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    workers = sorted((t for pid, t in seen.items() if pid != proc.pid), reverse=True)
    return {"wall": wall, "cpu": cpu, "workers": workers, "counts": counts, "status": report["status"],
            "load": (load, os.getloadavg()[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="upstream")
    ap.add_argument("--depth", default="2")
    ap.add_argument("--scenario", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    base = ["--variant", a.variant, "--depth", a.depth] + [x for s in a.scenario for x in ("--scenario", s)]
    serial = run(base)
    par = run(base + ["--jobs", str(a.jobs)])
    cmd = "zsmc check " + " ".join(base)
    print(f"command: {cmd} [--jobs {a.jobs}]")
    for (name, e1, r1), (_, e2, r2) in zip(serial["counts"], par["counts"]):
        print(f"  {name}: serial {e1:,} executions, {r1:,} redundant; --jobs {a.jobs} {e2:,}, {r2:,}"
              f" {'(same)' if (e1, r1) == (e2, r2) else '(DIFFERENT)'}")
    print(f"serial: {serial['wall']:.1f} s wall, {serial['cpu']:.1f} s CPU, load {serial['load'][0]:.1f}"
          f" -> {serial['load'][1]:.1f}, {serial['status']}")
    busiest = par["workers"][0] if par["workers"] else float("nan")
    print(f"--jobs {a.jobs}: {par['wall']:.1f} s wall, {par['cpu']:.1f} s CPU (workers "
          f"{', '.join(f'{t:.1f}' for t in par['workers'])} s), load {par['load'][0]:.1f} -> "
          f"{par['load'][1]:.1f}, {par['status']}")
    same = serial["counts"] == par["counts"]
    print(f"wall-time ratio {serial['wall'] / par['wall']:.2f}x; balance (serial CPU / busiest worker's CPU) "
          f"{serial['cpu'] / busiest:.2f}x; counts {'identical' if same else 'DIFFERENT'}")
    verdict = "PASS" if same and serial["wall"] / par["wall"] >= 1.8 else "FAIL"
    print(f"[4] {verdict}: --jobs {a.jobs} {serial['wall'] / par['wall']:.2f}x serial (1.8x wanted), "
          f"counts {'identical' if same else 'different'}")


if __name__ == "__main__":
    main()
