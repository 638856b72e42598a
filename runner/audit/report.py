"""The audit's outputs: ``audit.json``, one CSV per finding, ``report.html`` (thumbnail sheets per section, images
embedded, so it opens offline), all in ``--out`` and as artifacts of an MLflow audit run."""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import tracking

if TYPE_CHECKING:  # pragma: no cover
    from runner.audit.config import AuditConfig
    from runner.audit.records import AuditResult, Pooled

SHOWN = 48  # thumbnails per section at most
THUMB = 112


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _thumb(pool: Pooled, index: dict[str, int], name: str) -> str:
    import cv2

    img = pool.ds.image(index[name], THUMB) if name in index else None
    if img is None:
        return "<div class='missing'>unreadable</div>"
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
    return f"<img src='data:image/jpeg;base64,{base64.b64encode(buf.tobytes()).decode()}' alt='{html.escape(name)}'>"


def _card(image: str, lines: list[str]) -> str:
    return f"<figure>{image}<figcaption>{'<br>'.join(html.escape(x) for x in lines)}</figcaption></figure>"


def _group(thumb: Callable[[str], str], g: dict[str, Any], extra: list[str]) -> str:
    cards = "".join(_card(thumb(p), [p, lab, *extra]) for p, lab in zip(g["paths"], g["labels"], strict=True))
    return f"<div class='group'>{cards}</div>"


def _page(result: AuditResult, train: Pooled, test: Pooled | None) -> str:
    index = {n: i for i, n in enumerate(train.ds.names)}  # once per page, not once per thumbnail
    test_index = {n: i for i, n in enumerate(test.ds.names)} if test is not None else {}

    def thumb(path: str) -> str:
        if path.startswith("test:") and test is not None:
            return _thumb(test, test_index, path[5:])
        return _thumb(train, index, path)

    sections = [
        (
            "Label issues",
            "the given label is unlikely (score: the out-of-fold probability of the given label)",
            [
                _card(thumb(r["path"]), [r["path"], f"given {r['given']} -> {r['suggested']}", f"score {r['score']}"])
                for r in result.label_issues[:SHOWN]
            ],
            len(result.label_issues),
        ),
        (
            "Duplicates",
            "identical files (exact) or near-identical images (near: resized, recompressed, cropped)",
            [
                "<div class='group'>"
                + "".join(
                    _card(thumb(p), [p, lab, f"{g['kind']} {g['similarity']}"])
                    for p, lab in zip(g["paths"], g["labels"], strict=True)
                )
                + "</div>"
                for g in result.duplicates[:SHOWN]
            ],
            len(result.duplicates),
        ),
        (
            "Leaks",
            "test images that repeat training images",
            [_group(thumb, g, [f"{g['kind']} {g['similarity']}"]) for g in result.leaks[:SHOWN]],
            len(result.leaks),
        ),
        (
            "Outliers",
            "unlike every other image (score: mean cosine distance to the 10 nearest images)",
            [_card(thumb(r["path"]), [r["path"], f"score {r['score']}"]) for r in result.outliers[:SHOWN]],
            len(result.outliers),
        ),
    ]
    counts = ", ".join(f"{html.escape(c)}: {n}" for c, n in result.classes.items())
    body = [f"<h1>Audit of {html.escape(train.ds.name)}</h1><p>classes: {counts}</p>"]
    for title, what, cards, n in sections:
        more = f" (first {SHOWN} shown)" if n > SHOWN else ""
        body.append(f"<h2>{title}: {n}</h2><p>{what}{more}</p><div class='sheet'>{''.join(cards) or 'none'}</div>")
    bad = "".join(f"<li>{html.escape(p)}</li>" for p in result.unreadable) or "<li>none</li>"
    body.append(f"<h2>Unreadable files: {len(result.unreadable)}</h2><ul>{bad}</ul>")
    style = (
        "body{font-family:sans-serif;margin:2em}.sheet{display:flex;flex-wrap:wrap;gap:10px}"
        "figure{margin:0;width:150px;font-size:11px;word-break:break-all}img{width:112px;height:112px}"
        ".group{display:flex;gap:4px;border:1px solid #bbb;padding:4px}"
        ".missing{width:112px;height:112px;background:#eee}"
    )
    head = f"<head><meta charset='utf-8'><title>audit</title><style>{style}</style></head>"
    return f"<html>{head}<body>{''.join(body)}</body></html>"


def write(result: AuditResult, cfg: AuditConfig, train: Pooled, test: Pooled | None, emit: Callable) -> None:
    """Files in ``cfg.out`` and the same files as artifacts of an MLflow run; sets ``result.out`` and ``run_id``."""
    out = Path(cfg.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_text(json.dumps(result.findings(), indent=1))
    _csv(
        out / "label_issues.csv",
        ["path", "given", "suggested", "score"],
        [[r["path"], r["given"], r["suggested"], r["score"]] for r in result.label_issues],
    )
    for name, groups in (("duplicates", result.duplicates), ("leaks", result.leaks)):
        rows = [
            [k, g["kind"], g["similarity"], p, lab]
            for k, g in enumerate(groups)
            for p, lab in zip(g["paths"], g["labels"], strict=True)
        ]
        _csv(out / f"{name}.csv", ["group", "kind", "similarity", "path", "label"], rows)
    _csv(out / "outliers.csv", ["path", "score"], [[r["path"], r["score"]] for r in result.outliers])
    _csv(out / "unreadable.csv", ["path"], [[p] for p in result.unreadable])
    (out / "report.html").write_text(_page(result, train, test))
    result.out = str(out.resolve())
    uri = tracking.tracking_uri(cfg.tracking_uri)
    cl = tracking.client(uri)
    exp_id = tracking.experiment_id(cl, uri, cfg.experiment)
    run = cl.create_run(exp_id, run_name=f"audit-{train.ds.name}", tags={"runner": "audit", "data": cfg.data})
    result.run_id = run.info.run_id
    with tracking.ending(cl, result.run_id):
        params = {"data": cfg.data, "test": cfg.test, "backbone": cfg.backbone, "weights": cfg.weights}
        params |= {"folds": cfg.folds, "similarity": cfg.similarity, "n_images": len(train.ds)}
        tracking.log_params(cl, result.run_id, params, new_run=True)
        counts = {k: len(v) for k, v in result.findings().items() if k != "classes"}
        tracking.log_metrics(cl, result.run_id, {f"n_{k}": v for k, v in counts.items()})
        cl.log_artifacts(result.run_id, str(out), "audit")
    emit("audit", {"out": result.out, "run_id": result.run_id})
