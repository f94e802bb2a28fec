"""push and pull against sekmet-fhir on 127.0.0.1, beside bare httpx doing the same HTTP work.

    .venv/bin/python benchmarks/bench_server.py --observations 10000 100000 [--rounds 2] [--out FILE]

Per size, a study is generated (`synth --profile scale`, subjects chosen so that it has about
`--observations` Observations: labs, vital signs, ECG) and written once as FHIR NDJSON (`to-fhir --ndjson`).
Then, per round, each on a fresh empty server:
  * push base : bare httpx PUTs the same NDJSON resources in transaction Bundles of `--batch-size` (no tags,
                hashes, checkpoint, server comparison or report);
  * push      : `msc-interop push NDJSON --batch-size N` (streamed to scratch files, tags, content hashes,
                the server's state read first, checkpoint, report), in a fresh process;
  * reload    : the same push again (the nightly case: everything unchanged, nothing sent);
then on that server:
  * pull base : bare httpx pages `Observation?_count=500` (every `next` link) into memory, nothing written;
  * pull      : `msc-interop pull --study` (REST search of every type, NDJSON written, from-fhir conversion to
                SDTM Dataset-JSON) and `pull --bulk` ($export, downloads, the same conversion), fresh processes.
The server's own work (sekmet validates and stores every resource in SQLite) is in every figure: the ratios
say what msc-interop adds on top of the same HTTP traffic. Peak RSS of each msc-interop process is its
VmHWM: push's should not grow with the input (it streams); pull's does, because the from-fhir
conversion at its end holds the study. Each base runs in this process right beside its command, so the
drift of a shared machine falls on both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from servers.fhir_servers import sekmet_server  # noqa: E402

OBSERVATIONS_PER_SUBJECT = 140  # scale profile: 55 lab, VS and ECG rows (the figure printed is the real count)


def _msc(*args: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, output) of one msc-interop command in a fresh process. The peak is the
    process's own VmHWM: its ru_maxrss would start at this process's RSS at the fork (Linux keeps the
    high-water mark across exec), and this process holds the base pull's pages."""
    code = ("import resource, sys\nfrom msc_interop.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit as e:\n    rc = e.code or 0\nelse:\n    rc = 0\n"
            "hwm = next(ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM'))\n"
            "print('MAXRSS', hwm, file=sys.stderr)\n"
            "sys.exit(rc)")
    started = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if res.returncode != 0:
        raise SystemExit(f"msc-interop {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-2000:]}"
                         f"\n{res.stderr[-2000:]}")
    rss = next(int(ln.split()[1]) for ln in res.stderr.splitlines() if ln.startswith("MAXRSS")) / 1024
    return wall, rss, res.stdout


def _push_base(base: str, ndjson: Path, batch: int) -> tuple[float, int]:
    started, sent = time.perf_counter(), 0
    with httpx.Client(timeout=300, headers={"Content-Type": "application/fhir+json"}) as http:
        for path in sorted(ndjson.glob("*.ndjson")):
            lines = path.read_bytes().splitlines()
            for start in range(0, len(lines), batch):
                entries = []
                for line in lines[start:start + batch]:
                    res = orjson.loads(line)
                    entries.append({"resource": res, "request": {"method": "PUT",
                                                                 "url": f"{res['resourceType']}/{res['id']}"}})
                resp = http.post(base, content=orjson.dumps({"resourceType": "Bundle", "type": "transaction",
                                                            "entry": entries}))
                resp.raise_for_status()
                sent += len(entries)
    return time.perf_counter() - started, sent


def _pull_base(base: str) -> tuple[float, int]:
    started, got = time.perf_counter(), []
    with httpx.Client(timeout=300) as http:
        url: str | None = f"{base}/Observation?_count=500"
        while url:
            page = http.get(url).json()
            got += [e["resource"] for e in page.get("entry") or []]
            url = next((ln["url"] for ln in page.get("link") or [] if ln["relation"] == "next"), None)
    return time.perf_counter() - started, len(got)


def _size(work: Path, observations: int, rounds: int, batch: int, skip: set[str], partition: str = "auto"
          ) -> list[dict]:
    subjects = max(1, observations // OBSERVATIONS_PER_SUBJECT)
    _msc("synth", "--subjects", str(subjects), "--profile", "scale", "-o", str(work / "records"))
    _msc("to-fhir", str(work / "records"), "-o", str(work / "fhir"), "--bundle", "none", "--ndjson", "--no-validate")
    counts = {p.stem: sum(1 for _ in p.open("rb")) for p in (work / "fhir").glob("*.ndjson")}
    total = sum(counts.values())
    study = json.loads((work / "fhir" / "ResearchStudy.ndjson").read_text().splitlines()[0])["identifier"][0]["value"]
    print(f"{subjects} subjects: {counts.get('Observation', 0)} Observations, {total} resources in all", flush=True)
    rows = []
    for rnd in range(rounds):
        folder = work / f"server-{rnd}"
        (folder / "base").mkdir(parents=True)
        (folder / "ours").mkdir()
        pb = lb = got = rw = rrss = lw = lrss = float("nan")
        if "base" not in skip:
            with sekmet_server(folder / "base") as base:
                pb, _ = _push_base(base, work / "fhir", batch)
            shutil.rmtree(folder / "base")
        with sekmet_server(folder / "ours") as base:
            push = ("push", str(work / "fhir"), "--server", base, "--state-dir", str(folder / "st"),
                    "--batch-size", str(batch))
            pw, prss, _ = _msc(*push)
            if "reload" not in skip:
                rw, rrss, _ = _msc(*push, "--report", str(folder / "reload.json"))
                reload = json.loads((folder / "reload.json").read_text())
                unchanged = sum(r["unchanged"] for r in reload["counts"].values())
                assert unchanged == total and reload["requests"] < 20, reload["counts"]  # the reload sent nothing
            if "rest" not in skip:
                lw, lrss, _ = _msc("pull", "--server", base, "--study", study, "-o", str(folder / "rest"),
                                   "--state-dir", str(folder / "st"), "--format", "json", "--no-define",
                                   "--partition-subjects", partition)
            if "base" not in skip:
                lb, got = _pull_base(base)
            bw, brss, _ = _msc("pull", "--server", base, "--study", study, "-o", str(folder / "bulk"),
                               "--state-dir", str(folder / "st2"), "--format", "json", "--no-define", "--bulk",
                               "--partition-subjects", partition)
        row = {"round": rnd, "subjects": subjects, "observations": counts.get("Observation", 0), "resources": total,
               "batch_size": batch, "push_base_s": pb, "push_s": pw, "push_ratio": pw / pb,
               "push_per_s": total / pw, "push_rss_mb": prss, "reload_s": rw, "reload_per_s": total / rw,
               "reload_rss_mb": rrss, "pull_base_s": lb, "pull_base_observations": got, "pull_s": lw,
               "pull_per_s": total / lw, "pull_rss_mb": lrss, "bulk_s": bw, "bulk_per_s": total / bw,
               "bulk_rss_mb": brss}
        rows.append(row)
        print(f"round {rnd}: push {pw:.1f} s ({total / pw:.0f}/s, {prss:.0f} MB) vs base {pb:.1f} s -> "
              f"{pw / pb:.2f}x; reload (unchanged) {rw:.1f} s ({rrss:.0f} MB); pull {lw:.1f} s ({total / lw:.0f}/s, "
              f"{lrss:.0f} MB; base pages Observations only: {lb:.1f} s); pull --bulk {bw:.1f} s "
              f"({total / bw:.0f}/s, {brss:.0f} MB)", flush=True)
        shutil.rmtree(folder)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--observations", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=500, help="entries per Bundle, base and push alike")
    ap.add_argument("--skip", nargs="*", default=[], choices=["base", "reload", "rest"],
                    help="leave out the baselines, the reload push or the REST pull (a memory-only run)")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a new one under the temp dir; removed)")
    ap.add_argument("--out", type=Path, help="JSON results file")
    ap.add_argument("--partition-subjects", default="auto",
                    help="the pulls' --partition-subjects (e.g. 50: their conversion 50 subjects at a time)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-server-"))
    rows = []
    try:
        for n in args.observations:
            rows += _size(work / f"obs-{n}", n, args.rounds, args.batch_size, set(args.skip), args.partition_subjects)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.out:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        meta = {"date": dt.date.today().isoformat(), "commit": commit, "cpus": os.cpu_count(),
                "load_average_at_end": os.getloadavg(), "server": "sekmet-fhir (SQLite, strict validation)",
                "command": "benchmarks/bench_server.py " + " ".join(sys.argv[1:])}
        rows = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
