"""Synthetic study records with every form's rows in a random order (subjects.csv not in USUBJID order): what
the runs that cut a study by subject (partitioned, two-process load) must give as a whole run gives it."""

from __future__ import annotations

import random
from pathlib import Path

from msc_interop import api


def shuffled_records(folder: Path, subjects: int, seed: int) -> Path:
    """api.synth's records of `subjects` subjects in `folder`, each CSV file's rows shuffled (seeded)."""
    api.synth(folder, subjects=subjects, seed=seed)
    rng = random.Random(seed)
    for path in sorted(folder.glob("*.csv")):
        header, *body = path.read_text(encoding="utf-8").splitlines()
        rng.shuffle(body)
        path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    return folder
