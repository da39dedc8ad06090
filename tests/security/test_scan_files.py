"""Hostile files given to ``bastion scan``: a report (or a BastionError), never a crash or a bomb."""

from __future__ import annotations

import pickle
import struct
import zipfile

import pytest

from .conftest import PROBE_TIMEOUT_SECONDS, run_probes
from .test_data_files import WritesMarker

DEEP_JSON = "[" * 100_000 + "]" * 100_000


def build(root) -> dict[str, str]:
    header = ('{"a": ' + DEEP_JSON + "}").encode()
    (root / "deep.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    with zipfile.ZipFile(root / "torchscript.pt", "w") as archive:
        archive.writestr("archive/code/__torch__.py", "y = " + "+".join(["a"] * 200_000))
        archive.writestr("archive/constants.pkl", pickle.dumps(()))
        archive.writestr("archive/data.pkl", pickle.dumps({}))
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.onnx", bytes(30_000_000))
    with zipfile.ZipFile(root / "deep.skops", "w") as archive:
        archive.writestr("schema.json", DEEP_JSON)
    (root / "marker.pkl").write_bytes(pickle.dumps(WritesMarker(root / "MARKER")))
    (root / "deep.pkl").write_bytes(b"\x80\x04" + b"]" * 200_000 + b".")
    return {path.name: str(path) for path in root.iterdir() if path.is_file()}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-scan")
    probes = {}
    for name, path in build(root).items():
        probes[name] = (
            "import bastion.scan\nfrom bastion.limits import limited\n"
            "with limited(max_bytes=10_000_000):\n"
            f"    result = [finding.check for finding in bastion.scan({path!r}).findings]"
        )
    return run_probes(probes, root)


def test_scan_answers_every_hostile_file_with_a_report(outcomes):
    failures = {name: o for name, o in outcomes.items() if o.kind not in ("ok", "bastion")}
    assert not failures, "\n\n".join(f"{name}: {o.kind} {o.type}\n{o.message}" for name, o in failures.items())
    slow = {name: o.seconds for name, o in outcomes.items() if not o.seconds < PROBE_TIMEOUT_SECONDS}
    assert not slow, slow


def test_a_member_over_the_limit_is_reported_not_read(outcomes):
    assert "size.over-limit" in outcomes["bomb.zip"].value


def test_deep_json_in_a_safetensors_header_is_a_finding(outcomes):
    assert "safetensors.bad-header" in outcomes["deep.safetensors"].value
