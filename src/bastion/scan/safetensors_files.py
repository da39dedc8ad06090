"""safetensors files: an 8-byte header length, a JSON header, then the tensors' bytes.

The format holds no code, so what can go wrong is the header: one that does not parse, is
larger than the file, names a key twice, or gives offsets that overlap, leave gaps, run past
the end or disagree with the tensor's shape and dtype (readers that trust the offsets read
another tensor's bytes, or memory past the buffer). Only the header is read, never the data.
"""

from __future__ import annotations

import json
import math
import struct
from typing import BinaryIO

from bastion.scan.collector import Collector
from bastion.scan.findings import Finding

MAX_HEADER_BYTES = 100_000_000
"""safetensors' own limit on the header."""

DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
_INSTEAD = "re-save the tensors with safetensors.torch.save_file (or bastion.models.io.save)"


def looks_like_safetensors(head: bytes) -> bool:
    """An 8-byte little-endian length followed by a JSON object."""
    return len(head) >= 9 and head[8:9] == b"{"


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice")
        seen[key] = value
    return seen


def _finding(severity: str, check: str, what: str, member: str, offset: int | None, node: str = "") -> Finding:
    return Finding(severity, check, what, member=member, offset_bytes=offset, node=node, instead=_INSTEAD)


def scan_safetensors(stream: BinaryIO, size_bytes: int, member: str, collector: Collector) -> None:
    """Check a safetensors header against the file it describes."""
    collector.check("safetensors header")
    (length,) = struct.unpack("<Q", stream.read(8))
    if length > MAX_HEADER_BYTES or 8 + length > size_bytes:
        collector.add(
            _finding(
                "high",
                "safetensors.header-size",
                f"the header claims {length} bytes but the file has "
                f"{size_bytes}: readers that trust it read past the end",
                member,
                0,
            )
        )
        return
    try:
        header = json.loads(stream.read(length).decode("utf-8"), object_pairs_hook=_pairs)
        if not isinstance(header, dict):
            raise ValueError(f"the header is a JSON {type(header).__name__}, not an object")
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: JSON nested too deeply
        collector.add(_finding("high", "safetensors.bad-header", f"the header does not parse: {error}", member, 8))
        return
    data_bytes = size_bytes - 8 - length
    spans, valid = [], True
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                collector.add(
                    _finding(
                        "medium",
                        "safetensors.bad-metadata",
                        "__metadata__ must map strings to strings",
                        member,
                        8,
                        name,
                    )
                )
            continue
        problem = _entry_problem(entry, data_bytes)
        if problem:
            collector.add(_finding("high", "safetensors.bad-tensor", f"tensor {name!r}: {problem}", member, 8, name))
            valid = False
            continue
        spans.append((entry["data_offsets"][0], entry["data_offsets"][1], name))
    collector.member(f"{member or '(file)'}: safetensors, {len(spans)} tensors, {data_bytes} data bytes")
    _check_layout(sorted(spans), data_bytes if valid else None, member, 8 + length, collector)


def _entry_problem(entry: object, data_bytes: int) -> str | None:
    if not isinstance(entry, dict):
        return "the entry is not an object"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BITS:
        return f"unknown dtype {dtype!r}"
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return f"the shape {shape!r} is not a list of non-negative ints"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        return f"data_offsets {offsets!r} is not [begin, end]"
    begin, end = offsets
    if not 0 <= begin <= end:
        return f"data_offsets {offsets} run backwards"
    if end > data_bytes:
        return f"data_offsets {offsets} run past the end of the data ({data_bytes} bytes)"
    expected = math.ceil(math.prod(shape) * DTYPE_BITS[dtype] / 8)
    if end - begin != expected:
        return f"holds {end - begin} bytes but shape {shape} of {dtype} needs {expected}"
    return None


def _check_layout(spans: list, data_bytes: int | None, member: str, base: int, collector: Collector) -> None:
    # data_bytes is None when some tensor was already refused: its bytes would show as gaps.
    cursor = 0
    for begin, end, name in spans:
        if begin < cursor:
            collector.add(
                _finding(
                    "high",
                    "safetensors.overlap",
                    f"tensor {name!r} overlaps the previous tensor's bytes: changing one changes the other",
                    member,
                    base + begin,
                    name,
                )
            )
        elif begin > cursor and data_bytes is not None:
            collector.add(
                _finding(
                    "medium",
                    "safetensors.gap",
                    f"{begin - cursor} bytes before tensor {name!r} belong to no "
                    "tensor (hidden data; safetensors refuses the file)",
                    member,
                    base + cursor,
                    name,
                )
            )
        cursor = max(cursor, end)
    if data_bytes is not None and cursor < data_bytes:
        collector.add(
            _finding(
                "medium",
                "safetensors.gap",
                f"{data_bytes - cursor} bytes after the last tensor belong to no "
                "tensor (hidden data; safetensors refuses the file)",
                member,
                base + cursor,
            )
        )
