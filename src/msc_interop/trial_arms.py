"""TE (Trial Elements) and TA (Trial Arms) from the study definition, and the arm order TA carries back.

SDTMIG 3.4 section 7.2: TE has one record per planned element (ETCD, ELEMENT, TESTRL, TEENRL, TEDUR), TA one
record per planned element per arm (ARMCD, ARM, TAETORD, ETCD, ELEMENT, TABRANCH, TATRANS, EPOCH). A study.yaml may
declare them (`elements`, and each arm's `path`: records/definition.py checks them); without them they are derived
from the arms and the epochs of the planned visits by the rules of mappings/trial_design.yaml (the elements of the
epochs msc-interop itself gives the records: SCREENING, TREATMENT (one element per arm), FOLLOW-UP). Each of those
three is in TA even when no planned visit names it: a record placed by its date (AE, CM, DS, an unscheduled visit:
sdtm/common.epoch_by_date) gets it whatever the schedule says, and every EPOCH of the data is one of TA's. A
schedule naming another epoch gets no TA/TE and a note saying how to declare them: an element's start and end rules
are the protocol's, not something to guess.

Screen failures and subjects not assigned (DM ARMCD SCRNFAIL, NOTASSGN) are not arms of TA (SDTMIG 3.4 DM
assumption 4); the arms of TA are study.yaml's `arms`, in their order, which TA keeps (first row per ARMCD), but for
a study.yaml "arm" of those codes (mappings/trial_design.yaml not_arms: the SDTMIG 3.2 way of coding a screen
failure), which gets no treatment element.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from msc_interop import mappings
from msc_interop.sdtm.common import DATE_EPOCHS
from msc_interop.sdtm.epochs import study_epochs
from msc_interop.study import StudyMeta

TA_COLUMNS = ["STUDYID", "DOMAIN", "ARMCD", "ARM", "TAETORD", "ETCD", "ELEMENT", "TABRANCH", "TATRANS", "EPOCH"]
TE_COLUMNS = ["STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"]
_ETCD_MAX = 8  # SDTMIG 3.4 TE ETCD


@dataclass(frozen=True)
class TrialDesign:
    """TE and TA of a study (None when they cannot be derived) and the note saying why not ("" when they are)."""

    te: pd.DataFrame | None
    ta: pd.DataFrame | None
    note: str = ""

    def datasets(self) -> dict[str, pd.DataFrame]:
        """{"TA": ..., "TE": ...}, or {} without them."""
        return {} if self.te is None or self.ta is None else {"TA": self.ta, "TE": self.te}


def trial_design(meta: StudyMeta) -> TrialDesign:
    """TE and TA as study.yaml declares them, else derived from its arms and visit epochs."""
    if meta.elements:
        return _declared(meta)
    return _derived(meta)


def _declared(meta: StudyMeta) -> TrialDesign:
    """TE as `elements` lists them, TA from each arm's `path` (checked when the definition was read)."""
    te = pd.DataFrame([{"ETCD": e["etcd"], "ELEMENT": e["element"], "TESTRL": e["testrl"],
                        "TEENRL": e.get("teenrl", ""), "TEDUR": e.get("tedur", "")} for e in meta.elements])
    names = {e["etcd"]: e["element"] for e in meta.elements}
    rows = [{"ARMCD": a["armcd"], "ARM": a["arm"], "TAETORD": i, "ETCD": step["etcd"], "ELEMENT": names[step["etcd"]],
             "TABRANCH": step.get("tabranch", ""), "TATRANS": step.get("tatrans", ""), "EPOCH": step["epoch"]}
            for a in meta.arms for i, step in enumerate(a.get("path", []), start=1)]
    return TrialDesign(_frame(meta, "TE", te, TE_COLUMNS), _frame(meta, "TA", pd.DataFrame(rows), TA_COLUMNS))


def _derived(meta: StudyMeta) -> TrialDesign:
    rules = mappings.load("trial_design")
    epochs = study_epochs(meta)
    unknown = [e for e in epochs if e not in rules["shared"] and e not in rules["per_arm"]]
    not_arms = {c.upper() for c in rules["not_arms"]}
    arms = [a for a in meta.arms if str(a["armcd"]).upper() not in not_arms]  # (a SCRNFAIL "arm": no arm of TA)
    if not epochs or unknown or not arms:
        why = (f"the planned visits name the epoch(s) {', '.join(unknown)}, for which msc-interop has no default "
               "element" if unknown else "the planned visits name no epoch" if not epochs else "study.yaml has no arm")
        return TrialDesign(None, None, (
            f"TA and TE (Trial Arms, Trial Elements) not written: {why} (mappings/trial_design.yaml has "
            f"{', '.join([*rules['shared'], *rules['per_arm']])}); declare the study's elements in study.yaml "
            "(`elements`, and each arm's `path`: README, 'Trial design')"))
    epochs = _with_date_epochs(epochs)
    shared_codes = {rules["shared"][e]["etcd"] for e in epochs if e in rules["shared"]}
    own = [e for e in epochs if e in rules["per_arm"]]
    codes = _arm_element_codes(arms, own, shared_codes)
    # the branch: at the end of the last shared element before the first arm's own one (none: arms from the start)
    branch_at = epochs.index(own[0]) - 1 if own and len(arms) > 1 else -1
    te: dict[str, dict[str, str]] = {}  # in the epochs' order, an epoch's arm elements in the arms' order
    steps: list[list[dict[str, object]]] = [[] for _ in arms]
    for i, epoch in enumerate(epochs):
        for a_index, arm in enumerate(arms):
            if epoch in rules["shared"]:
                rule = rules["shared"][epoch]
                etcd, element = rule["etcd"], rule["element"]
            else:
                rule = rules["per_arm"][epoch]
                etcd, element = codes[(a_index, epoch)], rule["element"].format(arm=arm["arm"])
            te.setdefault(etcd, {"ETCD": etcd, "ELEMENT": element, "TESTRL": rule["testrl"],
                                 "TEENRL": rule["teenrl"], "TEDUR": ""})
            steps[a_index].append({"ARMCD": arm["armcd"], "ARM": arm["arm"], "TAETORD": i + 1, "ETCD": etcd,
                                   "ELEMENT": element, "TATRANS": "", "EPOCH": epoch,
                                   "TABRANCH": rules["branch"].format(arm=arm["arm"]) if i == branch_at else ""})
    ta = [step for arm_steps in steps for step in arm_steps]  # one arm after the other, in study.yaml's order
    return TrialDesign(_frame(meta, "TE", pd.DataFrame(list(te.values())), TE_COLUMNS),
                       _frame(meta, "TA", pd.DataFrame(ta), TA_COLUMNS))


def _with_date_epochs(epochs: list[str]) -> list[str]:
    """The schedule's epochs and each EPOCH a record placed by its date may get (common.DATE_EPOCHS: an adverse
    event before the first dose is in SCREENING, a disposition after the last dose in FOLLOW-UP, whatever epochs
    the planned visits name), a missing one after the date epoch before it (first when there is none): TA then
    has every EPOCH of the data."""
    out = list(epochs)
    for k, epoch in enumerate(DATE_EPOCHS):
        if epoch not in out:
            before = [out.index(e) for e in DATE_EPOCHS[:k] if e in out]
            out.insert(max(before) + 1 if before else 0, epoch)
    return out


def _arm_element_codes(arms: list[dict[str, str]], epochs: list[str], taken: set[str]
                       ) -> dict[tuple[int, str], str]:
    """(arm's place, per-arm epoch) -> ETCD: the arm's ARMCD when there is one per-arm epoch and every ARMCD fits
    (at most 8 characters, none a shared element's code, case aside); else ARM1, ARM2, ... (ARM1T1, ARM1T2, ...
    with several per-arm epochs)."""
    armcds = [a["armcd"] for a in arms]
    folded = {c.upper() for c in taken}
    fits = (len(epochs) == 1 and all(len(c) <= _ETCD_MAX for c in armcds)
            and not {c.upper() for c in armcds} & folded)
    out = {}
    for i, code in enumerate(armcds):
        for k, epoch in enumerate(epochs, start=1):
            out[(i, epoch)] = code if fits else f"ARM{i + 1}" + (f"T{k}" if len(epochs) > 1 else "")
    return out


def _frame(meta: StudyMeta, domain: str, rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The dataset with its variables in SDTMIG order; TEDUR (Perm) left out when no element has a duration."""
    out = pd.DataFrame({c: rows[c] if c in rows.columns else pd.Series(dtype=object) for c in columns[2:]})
    out.insert(0, "STUDYID", meta.studyid)
    out.insert(1, "DOMAIN", domain)
    if "TEDUR" in out.columns and not out["TEDUR"].fillna("").astype(str).ne("").any():
        out = out.drop(columns="TEDUR")
    return out


def arms_of_ta(ta: pd.DataFrame | None) -> list[dict[str, str]]:
    """The arms of a TA dataset in its order: each ARMCD at its first record in the file (the ARM of that record),
    blank codes left out; [] without TA or its ARMCD."""
    if ta is None or "ARMCD" not in ta.columns or not len(ta):
        return []
    code = ta["ARMCD"].fillna("").astype(str).str.strip()
    name = ta["ARM"].fillna("").astype(str).str.strip() if "ARM" in ta.columns else pd.Series("", index=ta.index)
    first = pd.DataFrame({"armcd": code, "arm": name})[code.ne("")].drop_duplicates("armcd")
    return first.to_dict("records")


def epochs_not_in_ta(datasets: dict[str, pd.DataFrame]) -> dict[tuple[str, str], int]:
    """(dataset, EPOCH) -> records of the dataset with an EPOCH that no TA row has ({} without TA): from each EPOCH
    column's distinct values, the records counted only when one is missing."""
    ta = datasets.get("TA")
    if ta is None or "EPOCH" not in ta.columns:
        return {}
    planned = set(ta["EPOCH"].dropna().astype(str))
    out: dict[tuple[str, str], int] = {}
    for name, df in datasets.items():
        if name == "TA" or "EPOCH" not in df.columns:
            continue
        outside = [v for v in pd.unique(df["EPOCH"]) if isinstance(v, str) and v and v not in planned]
        if outside:
            counts = df["EPOCH"][df["EPOCH"].isin(outside)].value_counts()
            out |= {(name, str(epoch)): int(n) for epoch, n in counts.items() if n}
    return out


def epoch_note(outside: dict[tuple[str, str], int]) -> str:
    """The warning about records whose EPOCH no TA row has ("" when none): every EPOCH of the data should be one of
    the trial design's (SDTMIG 3.4 TA, EPOCH: the arms' paths name the study's epochs)."""
    if not outside:
        return ""
    listed = "; ".join(f"{name} {epoch}: {n}" for (name, epoch), n in sorted(outside.items()))
    return (f"warning: {sum(outside.values())} record(s) have an EPOCH that no TA row has ({listed}): the records "
            "take their EPOCH from the study.yaml visits' `epoch` (records placed by date: SCREENING, TREATMENT, "
            "FOLLOW-UP), TA from the arms' `path`; name the visits' epochs as the paths name them (or the paths' "
            "as the visits'), so that every EPOCH of the data is one of the trial design's")
