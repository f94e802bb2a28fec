"""A/B timing: run one benchmark command alternately against two source trees and compare.

    python benchmarks/ab.py --a /work/wt-base --b /work/main --rounds 3 -- benchmarks/bench_to_sdtm.py --rows 100000
    python benchmarks/ab.py --a /work/wt-base --b . -- '{tree}/benchmarks/bench_fhir.py' --rows 100000
    python benchmarks/ab.py --a /work/wt-base --b . --rounds 2 --chdir -- -m pytest -q -x -p no:cacheprovider

Every run is a fresh process with PYTHONPATH=<tree>/src (it wins over the venv's editable install; the trees'
own mappings/ follow). Runs go A B, B A, A B, ... (`--order abba`, default) or A B, A B, ... (`--order ab`), one
at a time, so slow drift of a shared machine lands on both trees alike. Per run: wall time, CPU time (user +
system of the process and every descendant it waited for: resource.getrusage(RUSAGE_CHILDREN) before/after),
exit code and 1-minute load average; the whole output (stdout + stderr) is kept in
benchmarks/results/tmp/<stamp>-<name>/round<i>-<A|B>.log (git-ignored), with summary.txt and runs.json.

The command: a first word ending in `.py`, or an option (`-m`, `-c`, ...), runs under this Python (`--python`
to change it); `{tree}` in any word becomes the tree's root. Use `{tree}/benchmarks/bench_x.py` when a script
puts its own tree's src/ on sys.path: bench_fhir.py does, so main's copy would time main's code in both columns.
`--chdir` runs each process in its tree's root (the test suite, as above).

Figures the script prints: `--metric 'LABEL=REGEX'` (repeatable; one capture group, a number, commas allowed;
every match counts, several become LABEL#1, LABEL#2, ...). A LABEL ending in `/s` is a rate (best = highest),
anything else a duration (best = lowest). Without --metric, the bench_*.py scripts here get their stage figures
from PRESETS. Ratios are B/A; "B vs A" turns the median ratio into slower/faster whatever the unit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUM = r"([\d,]+(?:\.\d+)?)"
PRESETS: dict[str, list[str]] = {  # figures the bench scripts print, with their default (one-size) options
    "bench_fhir.py": [rf"write best/s=^\s*[\d,]+ +{NUM}", rf"write median/s=^\s*[\d,]+ +[\d,]+ +{NUM}",
                      rf"read/s=^\s*[\d,]+(?: +[\d,.]+){{7}} +{NUM} "],
    "bench_to_sdtm.py": [rf"s {stage}=^\s*[\d,]+ {stage} +{NUM}" for stage in
                         ("synth", "read", "build", "write xpt", "write json", "write csv", "define", "TOTAL")],
    "bench_validate.py": [rf"s validate_study=validate_study +{NUM} s", rf"s paths json=validate_paths json +{NUM} s",
                          rf"s paths xpt=validate_paths xpt +{NUM} s", rf"s fhir read=^ +read +{NUM} s",
                          rf"s fhir refs=references \(MSC-FHIR-008\) +{NUM} s",
                          rf"s fhir rules=all FHIR rules.*? {NUM} s"],
    "bench_odm.py": [rf"s {step}=^\s*[\d,]+ {step} +{NUM}" for step in ("export", "read", "whole-tree")],
    "bench_summary.py": [rf"s {stage}=^\s*[\d,]+ +[\d,]+ {stage} +{NUM}" for stage in
                         ("synth", "build Study", "compute_tables", "summarize")],
}


@dataclass
class Run:
    round: int
    tree: str  # "A" or "B"
    wall: float
    cpu: float
    rc: int
    load: float
    log: str
    figures: dict[str, float] = field(default_factory=dict)


def command(words: list[str], tree: Path, python: str) -> list[str]:
    """The command for one tree: `{tree}` filled in, the interpreter put in front of a script or an option."""
    words = [w.replace("{tree}", str(tree)) for w in words]
    return [python, *words] if words[0].startswith("-") or words[0].endswith(".py") else words


def num(v: float) -> str:
    """A figure for the table: thousands separated from 100 up, 3 significant digits below."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def extract(text: str, metrics: list[str]) -> dict[str, float]:
    """The figures `metrics` (LABEL=REGEX) find in a run's output."""
    found: dict[str, float] = {}
    for metric in metrics:
        label, pattern = metric.split("=", 1)
        values = [float(v.replace(",", "")) for v in re.findall(pattern, text, re.MULTILINE)]
        for i, value in enumerate(values, 1):
            found[label if len(values) == 1 else f"{label}#{i}"] = value
    return found


def run_once(cmd: list[str], tree: Path, chdir: bool, log: Path) -> tuple[float, float, int, float]:
    """Run `cmd` with the tree's src/ on PYTHONPATH, output to `log`: wall s, CPU s, exit code, load average."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.run(cmd, env=env, cwd=tree if chdir else None, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc, load


def verdict(a: float, b: float, rate: bool) -> str:
    """B's median against A's as a plain "x% slower/faster" (a rate that drops is slower)."""
    if not a or not b:
        return ""
    cost = a / b if rate else b / a  # > 1: B takes longer
    if abs(cost - 1) < 0.0005:
        return "same"
    return f"{abs(cost - 1) * 100:.1f}% {'slower' if cost > 1 else 'faster'}"


def summarize(runs: list[Run], names: dict[str, str]) -> str:
    """Per-round table, then per figure: median and best per tree, B/A of medians and bests."""
    lines = [f"{'round':>5} {'tree':<6} {'wall s':>8} {'CPU s':>8} {'load':>5} {'rc':>3}  figures"]
    for r in runs:
        figs = "  ".join(f"{k} {num(v)}" for k, v in r.figures.items())
        lines.append(f"{r.round:>5} {names[r.tree]:<6} {r.wall:>8.2f} {r.cpu:>8.2f} {r.load:>5.2f} {r.rc:>3}  {figs}")
    labels = ["wall s", "CPU s", *dict.fromkeys(k for r in runs for k in r.figures)]
    lines += ["", f"{'figure':<22} {'A median':>10} {'B median':>10} {'A best':>10} {'B best':>10} "
                  f"{'B/A med':>8} {'B/A best':>8}  B vs A (medians)"]
    for label in labels:
        rate = label.split("#")[0].endswith("/s")
        vals = {t: [r.wall if label == "wall s" else r.cpu if label == "CPU s" else r.figures.get(label)
                    for r in runs if r.tree == t] for t in "AB"}
        vals = {t: [v for v in vs if v is not None] for t, vs in vals.items()}
        if not vals["A"] or not vals["B"]:
            continue
        med = {t: statistics.median(vs) for t, vs in vals.items()}
        best = {t: (max if rate else min)(vs) for t, vs in vals.items()}
        ratio_med = med["B"] / med["A"] if med["A"] else float("nan")
        ratio_best = best["B"] / best["A"] if best["A"] else float("nan")
        lines.append(f"{label:<22} {num(med['A']):>10} {num(med['B']):>10} {num(best['A']):>10} {num(best['B']):>10} "
                     f"{ratio_med:>8.3f} {ratio_best:>8.3f}  {verdict(med['A'], med['B'], rate)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="tree A (the reference), a checkout with src/")
    ap.add_argument("--b", type=Path, required=True, help="tree B (the candidate)")
    ap.add_argument("--name-a", default="A", help="label of tree A in the table")
    ap.add_argument("--name-b", default="B", help="label of tree B in the table")
    ap.add_argument("--rounds", type=int, default=3, help="runs per tree")
    ap.add_argument("--order", choices=["abba", "ab"], default="abba")
    ap.add_argument("--chdir", action="store_true", help="run each process in its tree's root")
    ap.add_argument("--python", default=sys.executable, help="interpreter for a .py script or -m/-c")
    ap.add_argument("--metric", action="append", help="LABEL=REGEX (repeatable); default: PRESETS by script name")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "tmp", help="folder for the run folders")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the benchmark command")
    args = ap.parse_args(argv)
    words = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not words:
        ap.error("no command: put it after --")
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    for t, tree in trees.items():
        if not (tree / "src").is_dir():
            ap.error(f"tree {t} has no src/: {tree}")
    script = next((Path(w).name for w in words if w.endswith(".py")), "")
    metrics = args.metric or PRESETS.get(script, [])
    name = script or (words[1] if words[0] == "-m" else Path(words[0]).name)
    name = re.sub(r"[^\w.-]+", "_", name)[:40]
    folder = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    names = {"A": args.name_a, "B": args.name_b}
    runs: list[Run] = []
    for i in range(1, args.rounds + 1):
        order = "BA" if args.order == "abba" and i % 2 == 0 else "AB"
        for t in order:
            cmd = command(words, trees[t], args.python)
            log = folder / f"round{i}-{t}.log"
            print(f"round {i} {names[t]}: {' '.join(cmd)}", file=sys.stderr, flush=True)
            wall, cpu, rc, load = run_once(cmd, trees[t], args.chdir, log)
            runs.append(Run(i, t, wall, cpu, rc, load, str(log), extract(log.read_text(errors="replace"), metrics)))
            if rc:
                print(f"  exit code {rc}: see {log}", file=sys.stderr)
    header = [f"A = {names['A']}: {trees['A']}", f"B = {names['B']}: {trees['B']}",
              f"command: {' '.join(words)}", f"rounds: {args.rounds}, order {args.order}, logs: {folder}", ""]
    report = "\n".join(header) + summarize(runs, names)
    (folder / "summary.txt").write_text(report + "\n")
    (folder / "runs.json").write_text(json.dumps({"trees": {k: str(v) for k, v in trees.items()}, "command": words,
                                                  "runs": [asdict(r) for r in runs]}, indent=1))
    print(report)
    return 1 if any(r.rc for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
