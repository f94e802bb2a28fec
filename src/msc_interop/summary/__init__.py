"""The study's safety summary, computed from a Study alone (so SDTM, FHIR and study records give the same numbers).

    >>> from pathlib import Path
    >>> from msc_interop.api import load_study
    >>> from msc_interop.summary import compute_tables, summarize
    >>> study, _ = load_study("fixtures/example_study")
    >>> tables = compute_tables(study)
    >>> tables["ae_overview"].iloc[0, 1]
    '1 (11.1%)'
    >>> result = summarize(study, Path("out/summary"), formats=["html", "md", "csv"])  # doctest: +SKIP

Tables (CSV file names): study, demographics, disposition, exposure_summary, exposure_schedule, exposure_listing,
ae_overview, ae_soc_pt, ae_characteristics, ae_infusion, ae_listing, lab_stats, lab_change, lab_range, lab_shift,
lab_abnormal_listing, vs_stats, vs_change (summary/vital_signs.py), ecg_qtc, ecg_abnormal (summary/ecg.py), mh_soc_pt,
cxr_visits (summary/history_imaging.py), data_issues. Figures: one SVG per lab category (LBCAT), embedded in the HTML
report.

Only ``study`` (title, protocol, indication, planned schedule) and ``exposure_schedule`` (timing against the planned
days) read study-level metadata (study.yaml, or TS and TV in SDTM): an input without it gives "not recorded" and
"schedule unknown" there. Every other table reads the subject-level datasets only.

Output layout: OUTDIR/summary.html, OUTDIR/summary.md with OUTDIR/figures/*.svg, OUTDIR/csv/<table>.csv, and with
format "ard" OUTDIR/ard/ard.csv and ard.json: every number of the tables as analysis results data (summary/ard.py),
which the tables are rendered from (summary/ard_tables.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from msc_interop.atomic import write_bytes_atomic
from msc_interop.errors import UnknownFormatError
from msc_interop.study import Study
from msc_interop.summary import ard, render
from msc_interop.summary._common import Population, Section, text_col
from msc_interop.summary.adverse import summarize_ae
from msc_interop.summary.ae_groups import load_groups
from msc_interop.summary.ard_tables import render_tables
from msc_interop.summary.ecg import summarize_ecg
from msc_interop.summary.exposure import summarize_exposure
from msc_interop.summary.figures import lab_figures
from msc_interop.summary.history_imaging import summarize_history_imaging
from msc_interop.summary.labs import LabResult, summarize_labs
from msc_interop.summary.medications import summarize_medications
from msc_interop.summary.populations import dose_dates, population
from msc_interop.summary.subjects import demographics, disposition, populations, study_table
from msc_interop.summary.vital_signs import summarize_vital_signs

__all__ = ["FORMATS", "METADATA_TABLES", "Options", "SummaryResult", "compute_tables", "summarize"]

FORMATS = ("html", "md", "csv", "ard")
# tables that read study metadata (study.yaml) besides the SDTM datasets: they may differ between a Study read
# from study records and one read from SDTM files (which carry no title, indication or planned visit days)
METADATA_TABLES = frozenset({"study", "exposure_schedule"})


@dataclass
class SummaryResult:
    """What `summarize` produced: the tables (name -> DataFrame), the files written, footnotes per table."""

    tables: dict[str, pd.DataFrame]
    paths: list[Path] = field(default_factory=list)
    footnotes: dict[str, list[str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    highlights: list[str] = field(default_factory=list)
    ard: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis results data (summary/ard.py)
    layouts: dict[str, pd.DataFrame] = field(default_factory=dict)  # the tables before rendering (ard_tables.py)


@dataclass(frozen=True)
class Options:
    """Analysis choices of the summary (the CLI's summary options)."""

    baseline: str | None = None  # lab baseline visit instead of LBBLFL/LBLOBXFL
    by_visit: bool = True
    arms: str = "actual"  # treatment columns by "actual" (ACTARM) or "planned" (ARM) treatment
    te_window: int | None = None  # days after the last dose an AE can still be treatment-emergent; None: no limit
    ae_groups: str | Path | None = None  # AE groupings file instead of mappings/ae_groups.yaml


def is_infusion(study: Study) -> bool:
    """True when EX says the treatment is infused: route INTRAVENOUS (or a dose form naming INFUSION) with start
    times, so AEs can be placed minutes after the start of an administration."""
    ex = study.datasets.get("EX")
    if ex is None or ex.empty:
        return False
    route = text_col(ex, "EXROUTE").fillna("").str.upper()
    form = text_col(ex, "EXDOSFRM").fillna("").str.upper()
    iv = route.str.contains("INTRAVENOUS") | form.str.contains("INFUSION")
    timed = text_col(ex, "EXSTDTC").fillna("").str.contains("T", regex=False)
    return bool((iv & timed).any())


@dataclass
class _Summary(render.Report):
    labs: LabResult = field(default_factory=LabResult)  # what the lab figures are drawn from
    ard: pd.DataFrame = field(default_factory=pd.DataFrame)
    layouts: dict[str, pd.DataFrame] = field(default_factory=dict)


def _build(study: Study, opts: Options) -> _Summary:
    pop = population(study, opts.arms)
    groups = load_groups(opts.ae_groups)
    sec = Section()
    table, notes = study_table(study, pop)
    sec.add("study", "Study", table, notes)
    populations(pop, sec)
    demographics(study, pop, sec)
    disposition(study, pop, sec)
    ex = summarize_exposure(study, pop, sec)
    safety = pop.all[pop.all["SAFFL"].eq("Y")] if len(pop.all) else pd.DataFrame()
    doses = (safety.rename(columns={"TRTSDT": "first", "TRTEDT": "last", "TRTSDTC": "first_dtc"})
             [["USUBJID", "first", "last", "first_dtc"]]
             if len(safety) else dose_dates(study))
    infusion = is_infusion(study)
    ae = summarize_ae(study, pop, ex, sec, groups=groups, doses=doses, te_window=opts.te_window, infusion=infusion)
    given = (len(ex), ex.groupby("USUBJID").size() if len(ex) else pd.Series(dtype="int64"),
             bool(len(ex)) and bool(ex["INTERVAL"].astype(bool).any()))
    del ex  # the administrations with their derived columns: only their counts are needed from here on
    labs = summarize_labs(study, pop, sec, baseline=opts.baseline, by_visit=opts.by_visit)
    summarize_vital_signs(study, pop, sec)
    summarize_ecg(study, pop, sec)
    summarize_history_imaging(study, pop, sec)
    summarize_medications(study, pop, sec)
    issues = pd.DataFrame(sec.issues, columns=["Issue", "Dataset", "Records", "Subjects", "Detail", "Handling"])
    sec.add("data_issues", "Data handling: partial dates, missing and non-numeric values", issues,
            ["Every record is accounted for: what could not be used as is, how many, and how it was handled. "
             "Records: the records concerned, or for absent data the number of absent items (subject-visits, "
             "subject-tests)."] if len(issues) else
            ["No partial dates, missing values or non-numeric results found."])
    highlights = _highlights(study, pop, given, sec, labs, ae, infusion)
    title = sec.tables["study"].set_index("Item")["Value"].get("Title", "")
    frame = sec.ard.frame()
    # every table's numbers are the ARD's, formatted (summary/ard_tables.py): one source of truth
    tables = render_tables(sec.tables, frame)
    return _Summary(study.meta.studyid, "" if title.startswith("not recorded") else title, tables, sec.titles,
                    sec.footnotes, highlights, labs=labs, ard=frame, layouts=sec.tables)


def _highlights(study: Study, pop: Population, given: tuple[int, pd.Series, bool], sec: Section, labs: LabResult,
                ae_all: pd.DataFrame, infusion: bool) -> list[str]:
    """The report's opening lines; `given`: the administrations (EX records) and their number per subject."""
    out = []
    dm = study.datasets.get("DM")
    sex = ""
    if dm is not None and "SEX" in dm and len(dm):
        counts = pop.within(dm)["SEX"].replace("", "missing").value_counts().sort_index()
        sex = " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
    out.append(f"{pop.n} subjects in the safety population{sex}" + (
        f", of {len(pop.all)} in DM." if len(pop.all) and len(pop.all) != pop.n else "."))
    if pop.with_total:
        out.append("Treatment columns: " + "; ".join(f"{pop.label(a)} {pop.arm_n()[a]}" for a in pop.arms) + ".")
    n_given, per, ex_intervals = given
    if n_given:
        k = f"{per.min()}" if per.min() == per.max() else f"{per.min()} to {per.max()}"
        what = "EX records (dosing intervals)" if ex_intervals else "administrations"
        out.append(f"{n_given} {what} in {len(per)} subjects ({k} per subject).")
    ae = pop.within(ae_all[ae_all["TEAE"].eq("Y").to_numpy()]) if len(ae_all) else ae_all
    if len(ae):
        k = ae["USUBJID"].nunique()
        text = (f"{len(ae)} treatment-emergent adverse event(s) in {k} of {pop.n} subjects "
                f"({100.0 * k / pop.n:.1f}%); serious: {int(ae['AESER'].eq('Y').sum())}")
        if infusion:
            k_inf = int(ae["status"].eq("yes").sum())
            text += f"; with onset on the day of (or within 24 h after) an administration: {k_inf}"
        pre = int(ae_all["TEAE"].eq("N").sum())
        out.append(text + (f"; {pre} AE record(s) not treatment-emergent (listed separately)." if pre else "."))
        if pop.with_total:
            per = pop.expand(ae).drop_duplicates(["ARMCD", "USUBJID"]).groupby("ARMCD").size()
            n_by = pop.arm_n()
            out.append("Subjects with any TEAE: " + "; ".join(
                f"{pop.label(a)} {int(per.get(a, 0))}/{n_by[a]}" for a in pop.arms) + ".")
        inf = sec.tables.get("ae_infusion", pd.DataFrame())
        for r in (inf.to_dict("records") if len(inf) <= 5 else []):  # the seed's kind of event: name each one
            mins = r["Minutes after start of administration"]
            adm = f"administration {r['Administration (EXSEQ)']}" + (f" ({r['Visit']})" if r["Visit"] else "")
            when = f"{mins} min after the start of {adm}" if mins != "-" else f"on the day of {adm}"
            out.append(f"{r['Subject']}: {r['Preferred term']} ({r['Severity']}, {r['Relationship']}), {when}; "
                       f"outcome {r['Outcome']}.")
    else:
        out.append("No treatment-emergent adverse events recorded.")
    out += labs.facts
    return out


def compute_tables(study: Study, baseline: str | None = None, *, by_visit: bool = True,
                   **opts: object) -> dict[str, pd.DataFrame]:
    """All summary tables of `study` (name -> DataFrame of display cells), computed from the Study alone.

    `baseline`: a VISIT name (or VISITNUM) to take as the lab baseline instead of LBLOBXFL. `by_visit=False`
    summarises labs as baseline vs each subject's last post-baseline value instead of visit by visit.
    `opts`: the other fields of Options (arms, te_window, ae_groups).
    """
    return _build(study, Options(baseline=baseline, by_visit=by_visit, **opts)).tables


def summarize(study: Study, outdir: Path, *, formats: Sequence[str] = FORMATS, by_visit: bool = True,
              baseline: str | None = None, **opts: object) -> SummaryResult:
    """Compute the safety summary of `study` and write it to `outdir` in `formats` (html, md, csv, ard).

    Writes OUTDIR/csv/<table>.csv, OUTDIR/summary.md (+ OUTDIR/figures/*.svg) and OUTDIR/summary.html (figures
    embedded, opens offline). Every file is written atomically; the same Study gives byte-identical files.
    """
    formats = [f.strip().lower() for f in formats]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UnknownFormatError(f"summary format(s) {unknown or list(formats)} unknown; choose from "
                                 f"{', '.join(FORMATS)}")
    outdir = Path(outdir)
    s = _build(study, Options(baseline=baseline, by_visit=by_visit, **opts))
    paths: list[Path] = []
    if "md" in formats or "html" in formats:
        s.figures = lab_figures(s.labs)
    if "csv" in formats:
        paths += render.write_csvs(s.tables, outdir / "csv")
    if "ard" in formats:
        paths += ard.write(s.ard, outdir / "ard")
    if "md" in formats:
        paths += render.write_figures(s.figures, outdir / "figures")
        write_bytes_atomic(outdir / "summary.md", render.markdown(s).encode("utf-8"))
        paths.append(outdir / "summary.md")
    if "html" in formats:
        write_bytes_atomic(outdir / "summary.html", render.html_report(s).encode("utf-8"))
        paths.append(outdir / "summary.html")
    return SummaryResult(s.tables, paths, s.footnotes, s.titles, s.highlights, s.ard, s.layouts)
