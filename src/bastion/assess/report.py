"""The human report: one self-contained ``index.html`` (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import datetime
import re
from html import escape
from typing import Any

from bastion.assess.atlas import atlas
from bastion.assess.sections.common import percent

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:24px}
header{background:#1d2b3a;color:#fff;padding:20px 24px}header h1{margin:0 0 6px;font-size:24px}
header p{margin:2px 0;color:#c9d3de;font-size:13px}code{font-size:12px}
section{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:16px 20px;margin:18px 0}
h2{margin-top:0;font-size:20px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e4e8ec;padding:6px 8px;text-align:left;vertical-align:top}th{background:#f0f3f6}
.verdicts li{margin:6px 0}.bad{color:#b3261e;font-weight:600}.note{color:#7a5a00;font-size:13px}
.good{color:#1e7a3a;font-weight:600}
figure{margin:16px 0}figure svg{max-width:100%;height:auto;display:block}figcaption{font-size:13px;color:#4a5563}
.notes{font-size:13px;color:#5b4300;background:#fff7e0;border-left:3px solid #e0b000;padding:6px 12px}
.status-skipped{color:#6b7280}.status-failed{color:#b3261e}
"""


def scope_ids(svg: str, prefix: str) -> str:
    """Prefix every ``id`` of an SVG and the references to it, so several SVGs share a page safely."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg
    pattern = re.compile(r'(\bid="|#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def _value(value: Any) -> str:
    return "n/a" if value is None else percent(value)


def _summary_table(rows: list[dict[str, Any]]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("threat", "attack", "ATLAS", "metric", "undefended", "best defense", "ATLAS", "defended", "cost")
    )
    body = []
    for row in rows:
        body.append(
            "<tr>"
            f"<td>{escape(row['threat'])}</td><td>{escape(row['attack'])}</td><td><code>{escape(row['technique'])}</code></td>"
            f"<td>{escape(row['metric'])}</td><td>{_value(row['undefended'])}</td>"
            f"<td>{escape(row['best_defense'] or 'none found')}</td>"
            f"<td><code>{escape(row['mitigation'] or '')}</code></td>"
            f"<td>{_value(row['defended'])}</td><td>{escape(row['cost'] or '')}</td>"
            "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(figure: Any) -> str:
    notes = "".join(f"<li>{escape(note)}</li>" for note in figure.notes)
    notes_html = f'<ul class="notes">{notes}</ul>' if notes else ""
    return (
        f'<figure id="{escape(figure.id)}" data-figure="{escape(figure.id)}">'
        f"<h3>{escape(figure.title)}</h3>{scope_ids(figure.markup, figure.id)}"
        f"<figcaption>{escape(figure.caption)}</figcaption>{notes_html}</figure>"
    )


def _cells_table(records: list[dict[str, Any]], timings: dict[str, Any]) -> str:
    rows = []
    for record in records:
        seconds = timings.get(record["id"], {}).get("seconds")
        shown = "" if seconds is None else f"{seconds:.1f} s"
        if timings.get(record["id"], {}).get("cached"):
            shown += " (cached)"
        rows.append(
            f'<tr class="status-{record["status"]}"><td><code>{escape(record["id"])}</code></td>'
            f"<td>{escape(record['status'])}</td><td>{escape(record['reason'] or '')}</td><td>{shown}</td></tr>"
        )
    return (
        "<details><summary>Cells of this section</summary><table><thead><tr><th>cell</th><th>status</th>"
        f"<th>reason</th><th>time</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _atlas_table() -> str:
    data = atlas()
    rows = [
        f"<tr><td>{escape(entry['label'])}</td><td><code>{escape(entry['technique'])}</code></td>"
        f"<td>{escape(data['techniques'][entry['technique']]['name'])}</td></tr>"
        for entry in data["attacks"].values()
    ]
    rows += [
        f"<tr><td>{escape(entry['label'])}</td><td><code>{escape(entry['mitigation'])}</code></td>"
        f"<td>{escape(data['mitigations'][entry['mitigation']]['name'])}</td></tr>"
        for entry in data["defenses"].values()
    ]
    return (
        "<details><summary>MITRE ATLAS identifiers used in this report</summary><table><thead><tr><th>attack or "
        f"defense</th><th>ID</th><th>ATLAS name</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def render(assessment: Any) -> str:
    """The report of ``assessment`` as one HTML document."""
    import bastion

    summary = assessment.summary()
    timings = assessment.timings()
    verdicts = "".join(
        f"<li><strong>{escape(row['threat'][:1].upper() + row['threat'][1:])}</strong> "
        f"(<code>{escape(row['technique'])}</code>): {escape(row['verdict'])}"
        + "".join(f'<br><span class="note">{escape(note)}</span>' for note in row["notes"])
        + "</li>"
        for row in summary
    )
    failed = assessment.failed
    problems = (
        '<p class="bad">'
        + "".join(f"Cell <code>{escape(r['id'])}</code> failed: {escape(r['reason'])}<br>" for r in failed)
        + "</p>"
        if failed
        else ""
    )
    parts = [
        "<section id='summary'><h2>Summary</h2>"
        "<p>How this model can be attacked, what each defense buys, and at what cost. Percentages are shares "
        "of test inputs (or training records) unless stated.</p>"
        f"<ul class='verdicts'>{verdicts or '<li>No section produced a finding.</li>'}</ul>{problems}"
        f"{_summary_table(summary)}{_atlas_table()}</section>"
    ]
    by_section = {s.name: records for s, records in assessment._by_section()}
    for section, section_figures in assessment.figures():
        records = by_section[section.name]
        if not records:
            continue
        skipped = [r for r in records if r["status"] == "skipped"]
        skipped_html = (
            "<ul class='notes'>"
            + "".join(f"<li>skipped <code>{escape(r['id'])}</code>: {escape(r['reason'])}</li>" for r in skipped)
            + "</ul>"
            if skipped
            else ""
        )
        parts.append(
            f"<section id='section-{escape(section.name)}'><h2>{escape(section.title)}</h2>{skipped_html}"
            + "".join(_figure(f) for f in section_figures)
            + _cells_table(records, timings["cells"])
            + "</section>"
        )
    model, data = assessment.model, assessment.data
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"<header><h1>bastion assessment: {escape(model['source'])} on {escape(data['name'])}</h1>"
        f"<p>model SHA-256 <code>{escape(model['sha256'])}</code> ({escape(assessment.profile.kind)}, "
        f"{escape(', '.join(assessment.profile.capabilities))})</p>"
        f"<p>data {escape(data['name'])}: {data['n_train']} training / {data['n_test']} test samples; seed "
        f"{assessment.config.seed}; preset {escape(assessment.config.preset)}; backend {escape(assessment.backend)}; "
        f"{timings['seconds']:.0f} s of cell time; bastion {escape(bastion.__version__)}; {generated}</p></header>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>bastion assessment: {escape(data['name'])}</title><style>{STYLE}</style></head>"
        f"<body>{header}<main>{''.join(parts)}</main></body></html>\n"
    )


__all__ = ["render"]
