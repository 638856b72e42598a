"""``runner search --exclude FILE``: images to leave out, listed by an audit (``audit.json`` or one of its CSVs) or
by hand (one path per line, as the dataset lists them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.data.dataset import Dataset
from runner.errors import DataError

EXPECTED = "an audit's audit.json or CSV (a path column), or a text file with one path per line"


@dataclass
class Exclusion:
    rows: list[int]  # positions in the dataset
    unknown: list[str]  # listed paths that the dataset does not have


def _from_audit(found: dict[str, Any]) -> list[str]:
    """What an audit suggests leaving out: label issues, outliers, unreadable files, every duplicate but the first
    of its group, and the training side of each leak."""
    paths = [r["path"] for r in found.get("label_issues", []) + found.get("outliers", [])]
    paths += list(found.get("unreadable", []))
    paths += [p for g in found.get("duplicates", []) for p in g["paths"][1:]]
    paths += [p for g in found.get("leaks", []) for p in g["paths"]]
    return paths


def _from_csv(path: Path) -> list[str]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError("cannot read --exclude", received=str(path), expected=EXPECTED, fix=str(err)) from None
    if "path" not in frame.columns:
        raise DataError("--exclude CSV has no path column", received=list(frame.columns), expected=EXPECTED, fix="")
    if "group" in frame.columns:  # duplicates.csv / leaks.csv: keep the first of each group
        frame = frame[frame.duplicated("group", keep="first")]
    return list(frame["path"])


def read_exclusion(file: str, ds: Dataset) -> Exclusion:
    path = Path(file).expanduser()
    if not path.is_file():
        raise DataError("--exclude file not found", received=file, expected=EXPECTED, fix="check the path")
    if path.suffix.lower() == ".json":
        try:
            found = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError("cannot read --exclude", received=file, expected=EXPECTED, fix=f"fix it ({err})") from None
        paths = _from_audit(found) if isinstance(found, dict) else [str(p) for p in found]
    elif path.suffix.lower() == ".csv":
        paths = _from_csv(path)
    else:
        paths = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    paths = [p for p in dict.fromkeys(paths) if not p.startswith("test:")]  # test images are not trained on
    where = {n: i for i, n in enumerate(ds.names)}
    rows = sorted(where[p] for p in paths if p in where)
    unknown = [p for p in paths if p not in where]
    if paths and not rows:
        raise DataError(
            "no path listed in --exclude is in --data",
            received=f"{file}: {unknown[0]} ...",
            expected="paths as the dataset lists them (e.g. cats/cat.1.jpg)",
            fix="audit the same --data, or list its paths",
        )
    return Exclusion(rows, unknown)
