"""The report renders in a real headless Chromium with no console error and every figure drawn."""

from __future__ import annotations

import json

import pytest

from .browser import CHROMIUM, Chromium

FIGURES = ("adversarial-examples", "robust-accuracy", "extraction-fidelity", "membership-roc", "pate-epsilon")

# Per figure: the box of its chart (an SVG, or a table for the model-file scan) and how many
# drawn elements (SVG shapes, table cells) it holds.
MEASURE = """JSON.stringify([...document.querySelectorAll('figure')].map(f => {
  const chart = f.querySelector('svg') || f.querySelector('table');
  const box = chart ? chart.getBoundingClientRect() : {width: 0, height: 0};
  const parts = !chart ? 0 : chart.tagName === 'TABLE' ? chart.querySelectorAll('td').length * 10
                             : chart.querySelectorAll('path, use, image, rect').length;
  return {id: f.id, kind: chart ? chart.tagName : null, width: box.width, height: box.height, drawn: parts};
}))"""


@pytest.fixture(scope="module")
def page(quick_report, tmp_path_factory):
    browser = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        session = browser.open((quick_report / "index.html").resolve().as_uri())
        figures = json.loads(browser.evaluate(session, MEASURE))
        text = browser.evaluate(session, "document.body.innerText")
        yield {"figures": figures, "text": text, "errors": browser.errors()}
    finally:
        browser.close()


def test_chromium_is_the_debian_package():
    assert CHROMIUM.endswith("chromium")


def test_the_report_renders_without_console_errors(page):
    assert page["errors"] == []


def test_every_figure_is_present_and_drawn(page, quick_results):
    shown = {figure["id"]: figure for figure in page["figures"]}
    expected = set(FIGURES)
    for cell in quick_results["cells"]:
        # Poisoning figures appear once the poisoning attacks are part of bastion.
        if cell["section"] == "poisoning" and cell["status"] == "ok":
            expected.add(f"poisoning-{cell['params']['attack']}")
            if cell["params"] == {"attack": "backdoor", "defense": "none"}:
                expected.add("poisoning-backdoor-trigger")
    assert expected <= set(shown)
    for figure in page["figures"]:
        assert figure["width"] > 200 and figure["height"] > (100 if figure["kind"] == "svg" else 20), figure
        assert figure["drawn"] > 20, figure


def test_the_summary_comes_first_in_plain_words(page):
    text = page["text"]
    assert text.index("Summary") < text.index("Adversarial examples (evasion)")
    assert "fools the model on" in text and "AML.T0043" in text


def test_skipped_cells_are_shown_with_their_reason(page, quick_results):
    for cell in quick_results["cells"]:
        if cell["status"] == "skipped":
            assert cell["reason"] in page["text"].replace("\n", " ")


def test_the_report_is_self_contained(quick_report):
    html = (quick_report / "index.html").read_text()
    for remote in ("http://", "https://", "<script", "<link"):
        # The SVGs declare their XML namespaces by URL; nothing is fetched.
        assert remote not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
        ), remote
