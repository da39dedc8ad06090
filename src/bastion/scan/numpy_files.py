"""``.npy`` arrays (alone or inside ``.npz`` and skops archives): the header, and the pickle
that follows it when the array holds Python objects.

``numpy.load(..., allow_pickle=True)`` unpickles an object array's data, so an ``.npy`` file
is a pickle in disguise whenever its dtype has objects. The header is read with numpy's own
header parser, which evaluates literals only.
"""

from __future__ import annotations

import tokenize
from typing import BinaryIO

import numpy as np

from bastion.scan.collector import Collector
from bastion.scan.findings import Finding
from bastion.scan.pickles import NestedScanner, scan_pickle

NPY_MAGIC = b"\x93NUMPY"


def scan_npy(stream: BinaryIO, member: str, collector: Collector, *, depth: int, nested: NestedScanner) -> None:
    """Check one ``.npy`` stream; scan its pickle if the array holds objects."""
    collector.check("npy header")
    try:
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(stream, max_header_size=1 << 20)
    except (ValueError, TypeError, SyntaxError, OSError, EOFError, tokenize.TokenError) as error:
        collector.add(
            Finding(
                "medium",
                "npy.bad-header",
                f"the .npy header does not parse ({error}); numpy refuses it",
                member=member,
                offset_bytes=0,
                instead="re-save the array with numpy.save",
            )
        )
        return
    collector.member(f"{member or '(file)'}: npy array {dtype} {tuple(shape)}")
    if not dtype.hasobject:
        return
    collector.check("npy object-array pickle")
    offset = stream.tell()
    result = scan_pickle(stream, member=member, base_offset=0, depth=depth, nested=nested)
    if result is None:
        return
    collector.extend(result.findings)
    collector.imports.update(result.imports)
    collector.add(
        Finding(
            "medium",
            "npy.object-array",
            f"the array holds Python objects ({dtype}): numpy.load(allow_pickle=True) unpickles the data that "
            "follows the header",
            member=member,
            offset_bytes=offset,
            instead="store numeric arrays only (numpy.save of a numeric dtype, or safetensors)",
        )
    )
