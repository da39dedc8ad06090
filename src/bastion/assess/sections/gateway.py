"""Serving gateway: how far each output policy and PRADA slow a thief who goes through the API.

One cell per output policy (``gateway/extraction_<policy>``). Each starts the real gateway
of ``bastion serve`` in front of the assessed model, on loopback (uvicorn in a thread, a
temporary SQLite database), with one key of that policy and a quota of ``quota`` inputs,
PRADA on (Juuti et al. 2019). A Knockoff Nets thief (Orekondy et al. 2019) then spends
the whole quota through :class:`~bastion.models.RemoteModel`, from the attacker's half of
the test split, like the duplication section's extraction cells. Reported per policy:

- fidelity: the share of the held-out half of the test split on which the stolen copy
  gives the assessed model's label (measured in-process, against the model itself);
- the query at which PRADA first flagged the key, or none within the quota;
- the inputs the gateway's audit log holds for the key (every answered query is logged).

The key's quota is the thief's budget plus two inputs: the extraction API evaluates its copy
on one input after the theft (its label and its scores); fidelity is measured apart, on the
whole held-out half, against the model itself.

The section needs the ``serve`` extra (FastAPI, uvicorn, httpx); without it, or on a model
that is itself a remote API, the cells are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from bastion import plots
from bastion.assess.atlas import mitigation, technique
from bastion.assess.registry import Cell, CellUnavailableError, Figure, Section, cell_function, register_section
from bastion.assess.sections.common import done, percent
from bastion.assess.sections.duplication import attacker_split
from bastion.mixins import ResultMixin

SECTION = "gateway"
FUNCTION = "gateway.extraction"
SERVE_MODULES = ("fastapi", "uvicorn", "httpx")
# ExtractionAttack.extract evaluates its copy after the theft: one input, labels and scores.
EVALUATION_QUERIES = 2
POLICY_LABELS = {
    "probs": "full probabilities",
    "top1": "top-1 confidence",
    "label": "labels only",
    "round:2": "rounded to 2 decimals",
    "noise:0.01": "noisy scores (sigma 0.01)",
}


@dataclass(frozen=True)
class GatewayExtractionResult(ResultMixin):
    """A Knockoff theft through the gateway behind one output policy.

    Attributes:
        policy: the key's output policy (``probs``, ``top1``, ``label``, ``round:2``, ``noise:0.01``).
        label: the policy in words.
        quota_inputs: the thief's budget (the key's quota less the evaluation queries).
        queries_used: inputs the gateway answered for the theft.
        audited_inputs: inputs the gateway's audit log holds for the key (evaluation queries included).
        fidelity: share of the held-out inputs on which the copy gives the model's label, in [0, 1].
        accuracy: the copy's accuracy on their true labels, in [0, 1].
        prada: whether PRADA ran on the gateway.
        first_alert_query: the query at which PRADA first flagged the key, ``None`` if it did not
            within the quota.
        shapiro_w: PRADA's last Shapiro-Wilk statistic for the key, ``None`` before its first test.
        n_eval: size of the held-out set.
    """

    policy: str
    label: str
    quota_inputs: int
    queries_used: int
    audited_inputs: int
    fidelity: float
    accuracy: float
    prada: bool
    first_alert_query: int | None
    shapiro_w: float | None
    n_eval: int


def serve_missing() -> str | None:
    """Why the gateway cannot start here (a missing package of the serve extra), or ``None``."""
    missing = [name for name in SERVE_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f'the serving gateway needs the serve extra ({", ".join(missing)} not installed): pip install "bastion[serve]"'
    )


def plan(config: Any, profile: Any) -> list[Cell]:
    """One extraction cell per output policy (skipped with the reason when it cannot run)."""
    section = config.section(SECTION)
    if not section["enabled"]:
        return []
    common = serve_missing()
    if common is None and profile.kind == "RemoteModel":
        common = "the assessed model is already a remote API; a local gateway needs the model itself"
    cells = []
    for policy in section["policies"]:
        skip = common
        if skip is None and policy != "label" and not profile.scores:
            skip = f"the {POLICY_LABELS[policy]} policy needs a model that answers probabilities"
        cells.append(
            Cell(
                f"{SECTION}/extraction_{policy.replace(':', '_')}",
                SECTION,
                FUNCTION,
                f"extraction through the gateway, {POLICY_LABELS[policy]}",
                {"policy": policy},
                cost=1,
                skip=skip,
            )
        )
    return cells


@cell_function(FUNCTION)
def extraction_cell(context: Any) -> dict[str, Any]:
    """Start a gateway, steal the model through it with Knockoff Nets, read PRADA and the audit log."""
    reason = serve_missing()
    if reason is not None:
        raise CellUnavailableError(reason)
    from bastion.attacks.extraction import KnockoffNets, pixel_shifts
    from bastion.attacks.extraction.base import measure_fidelity
    from bastion.models import RemoteModel
    from bastion.serve.app import GatewayConfig
    from bastion.serve.local import local_gateway
    from bastion.serve.sqlite import SQLiteStore

    section, model, dataset = context.section(), context.model, context.dataset
    policy, quota = context.params["policy"], section["quota"]
    attacker, held_out = attacker_split(dataset, context.config.seed)
    pool = dataset.x_test[attacker]
    if pool.ndim == 4:
        pool = pixel_shifts(pool)
    if quota > len(pool):
        raise CellUnavailableError(f"the attacker's pool holds {len(pool)} inputs, fewer than the quota {quota}")
    config = GatewayConfig(prada=section["prada"], max_batch=max(section["batch"], 1))
    with tempfile.TemporaryDirectory(prefix="bastion-gateway-") as folder:
        store = SQLiteStore(Path(folder) / "gateway.db")
        try:
            token = store.create_key("thief", policy=policy, quota=quota + EVALUATION_QUERIES)
            with local_gateway(model, store, config) as gateway:
                with RemoteModel(gateway.url, token, batch_size=section["batch"], retries=2) as remote:
                    attack = KnockoffNets(
                        pool,
                        output="labels" if policy == "label" else "probabilities",
                        epochs=section["substitute_epochs"],
                        seed=context.seed,
                    )
                    stolen = attack.extract(remote, budget=quota, x_eval=dataset.x_test[held_out[:1]])
                prada = gateway.app.state.prada
                status = None if prada is None else prada.status("thief")
            audited = sum(row.n_inputs for row in store.audit("thief"))
        finally:
            store.close()
    measured = measure_fidelity(stolen.stolen, model, dataset.x_test[held_out], dataset.y_test[held_out])
    first = None if status is None else status.first_alert_query
    return GatewayExtractionResult(
        policy=policy,
        label=POLICY_LABELS[policy],
        quota_inputs=quota,
        queries_used=stolen.queries_used,
        audited_inputs=int(audited),
        fidelity=float(measured["fidelity"]),
        accuracy=float(measured["accuracy"]),
        prada=status is not None,
        first_alert_query=None if first is None or first > quota else int(first),
        shapiro_w=None if status is None or status.shapiro_w is None else round(float(status.shapiro_w), 6),
        n_eval=len(held_out),
    ).to_dict()


def _results(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["result"]["policy"]: r["result"] for r in done(records, FUNCTION)}


def alert_words(result: dict[str, Any]) -> str:
    """``"PRADA flagged the key after 140 queries"``, ``"PRADA raised no alert"`` or ``"PRADA was off"``."""
    if not result["prada"]:
        return "PRADA was off"
    if result["first_alert_query"] is None:
        return f"PRADA raised no alert in {result['quota_inputs']} queries"
    return f"PRADA flagged the key after {result['first_alert_query']} of {result['quota_inputs']} queries"


def verdict(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """One plain sentence: how good the copy is behind this policy, against full probabilities, and PRADA."""
    text = (
        f"Behind {result['label']}, a thief with {result['quota_inputs']} queries builds a copy that agrees with the "
        f"model on {percent(result['fidelity'])} of held-out inputs"
    )
    if baseline is not None and baseline is not result:
        gap = baseline["fidelity"] - result["fidelity"]
        if gap > 0.02:
            text += f", {100 * gap:.0f} points below full probabilities"
        else:
            text += " (no slower than with full probabilities)"
    text += f"; {alert_words(result)}"
    if result["first_alert_query"] is not None:
        text += " (with --on-alert block the theft stops there)"
    return text + "."


def summarize(records: list[dict[str, Any]], config: Any) -> list[dict[str, Any]]:
    """One row: the copy's fidelity behind full probabilities, and the policy that lowers it most."""
    results = _results(records)
    if not results:
        return []
    base = results.get("probs") or max(results.values(), key=lambda r: r["fidelity"])
    others = {p: r for p, r in results.items() if r is not base and r["fidelity"] < base["fidelity"]}
    best = min(others.values(), key=lambda r: r["fidelity"], default=None)
    alerted = [r for r in results.values() if r["first_alert_query"] is not None]
    notes = [verdict(r, base) for r in results.values()]
    sentence = verdict(base, None)
    if best is not None:
        sentence += f" The best policy, {best['label']}, brings it to {percent(best['fidelity'])}."
    if not alerted and base["prada"]:
        sentence += (
            " PRADA flagged no key: Knockoff queries natural inputs, whose distances look natural (the detector's "
            "known limit)."
        )
    return [
        {
            "family": SECTION,
            "threat": "model theft through the serving gateway",
            "attack": technique("knockoff")["label"],
            "technique": technique("knockoff")["id"],
            "metric": f"extraction fidelity @ {base['quota_inputs']} queries (through the gateway)",
            "higher_is_better": False,
            "undefended": base["fidelity"],
            "best_defense": None if best is None else f"gateway policy {best['policy']}",
            "mitigation": None if best is None else _mitigation(best),
            "defended": None if best is None else best["fidelity"],
            "cost": None if best is None else "callers see less of each answer",
            "verdict": sentence,
            "notes": notes,
        }
    ]


def _mitigation(result: dict[str, Any]) -> str:
    # ATLAS AML.M0002 (passive output obfuscation) covers every output policy.
    return mitigation("labels" if result["policy"] == "label" else "rounded")["id"]


def metrics(records: list[dict[str, Any]], config: Any) -> dict[str, float]:
    """``gateway_fidelity@<quota>[<policy>]``, ``gateway_alerted[<policy>]`` (0 or 1) and
    ``gateway_queries_to_alert[<policy>]`` (only for a flagged key)."""
    out: dict[str, float] = {}
    for policy, result in _results(records).items():
        out[f"gateway_fidelity@{result['quota_inputs']}[{policy}]"] = result["fidelity"]
        out[f"gateway_alerted[{policy}]"] = float(result["first_alert_query"] is not None)
        if result["first_alert_query"] is not None:
            out[f"gateway_queries_to_alert[{policy}]"] = float(result["first_alert_query"])
    return out


def _table(results: dict[str, dict[str, Any]], base: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(r['policy'])}</code></td><td>{escape(r['label'])}</td>"
        f"<td>{percent(r['fidelity'])}</td><td>{r['queries_used']}</td><td>{r['audited_inputs']}</td>"
        f"<td>{'no alert' if r['first_alert_query'] is None else r['first_alert_query']}</td>"
        f"<td>{escape(verdict(r, base))}</td></tr>"
        for r in results.values()
    )
    return (
        "<table><thead><tr><th>policy</th><th>what callers see</th><th>fidelity</th><th>queries</th>"
        "<th>audited inputs</th><th>PRADA's first alert (query)</th><th>verdict</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def make_figures(records: list[dict[str, Any]], config: Any) -> list[Figure]:
    """Fidelity per policy as bars (PRADA's alerts marked), and the table of every cell."""
    results = _results(records)
    if not results:
        return []
    base = results.get("probs") or max(results.values(), key=lambda r: r["fidelity"])
    quota = base["quota_inputs"]
    figure = plots.gateway_figure(
        [r["policy"] for r in results.values()],
        [r["fidelity"] for r in results.values()],
        [r["first_alert_query"] for r in results.values()],
        quota=quota,
    )
    caption = (
        f"Knockoff Nets (Orekondy et al. 2019) through a local bastion gateway, {quota} queries per key: share of "
        "held-out inputs on which the stolen copy agrees with the model, per output policy of the key; a bar is "
        "marked with the query at which PRADA (Juuti et al. 2019) first flagged the key."
    )
    return [
        Figure(
            "gateway-fidelity", "Extraction through the gateway, per output policy", plots.figure_svg(figure), caption
        ),
        Figure(
            "gateway-table",
            "Per policy: fidelity at the quota, PRADA, the audit log",
            _table(results, base),
            "Every answered query is in the gateway's audit log (the thief's queries and the two evaluation queries). "
            "PRADA looks at the distances between a key's queries only: a thief who queries natural inputs "
            "evades it.",
        ),
    ]


register_section(
    Section(SECTION, "Serving gateway (extraction through the API)", plan, summarize, make_figures, metrics, order=25)
)

__all__ = ["GatewayExtractionResult", "alert_words", "serve_missing", "verdict"]
