"""Zip archives: the tricks that make readers disagree, and torch.save checkpoints."""

from __future__ import annotations

import tracemalloc

import pytest
import torch

import bastion.scan

from .conftest import CASES, assert_caught

ZIP_CASES = [
    "torch_zip_payload",
    "zip_duplicate_name",
    "zip_encrypted_flag",
    "zip_name_mismatch",
    "zip_hidden_protocol0",
    "zip_traversal_name",
]


@pytest.mark.parametrize("name", ZIP_CASES)
def test_zip_technique_is_reported_without_running_it(scan_case, name):
    assert_caught(scan_case(name), CASES[name])


@pytest.mark.parametrize("name", ["zip_duplicate_name", "zip_encrypted_flag", "zip_name_mismatch"])
def test_the_payload_behind_a_zip_trick_is_still_found(scan_case, name):
    report = scan_case(name)
    assert any(f.check == "pickle.dangerous-call" and f.severity == "critical" for f in report.findings)


def test_plain_state_dict_is_clean_and_its_storages_are_not_read(scan_case):
    report = scan_case("torch_state_dict")
    assert report.findings == () and report.format == "torch-zip"
    assert "tensor storages" in report.members[-1]


def test_tampered_crc_is_reported(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.zeros(4)}, path)
    data = bytearray(path.read_bytes())
    start = data.index(b"data.pkl") + len(b"data.pkl")
    # Flip a byte of the pickle's body, leaving the recorded CRC as it was.
    index = data.index(b"collections", start)
    data[index] = ord("C")
    path.write_bytes(bytes(data))
    checks = {f.check for f in bastion.scan(path).findings}
    assert "zip.bad-crc" in checks


def test_large_checkpoint_is_streamed_not_read_into_memory(tmp_path):
    path = tmp_path / "big.pt"
    torch.save({"w": torch.zeros(4 * 1024 * 1024)}, path)  # 16 MiB of storage
    tracemalloc.start()
    report = bastion.scan(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.findings == ()
    assert peak < path.stat().st_size / 8
