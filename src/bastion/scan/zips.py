"""Zip archives (``torch.save`` files, ``.npz``, skops, TorchScript): member names and flags
that make readers disagree, and opening every member the way a lenient loader would.

Scanners built on :mod:`zipfile` can be steered away from the member a loader reads. Known
tricks, each reported here: two members with the same name (``zipfile`` opens the last by
name, a loader may take the first); a local header whose name differs from the central
directory's; the "encrypted" flag set on a member that is not encrypted (``zipfile``
refuses it, PyTorch's reader ignores the flag); a CRC that no longer matches (the member
changed after it was written); names that leave the extraction folder. Every member is
then opened by its directory entry, not its name, with the flag, CRC and name checks
relaxed, so the bytes a lenient loader would read are the bytes that get scanned.
"""

from __future__ import annotations

import copy
import re
import struct
import zipfile
import zlib
from collections import Counter
from pathlib import PurePosixPath
from typing import BinaryIO

from bastion.scan.collector import Collector
from bastion.scan.findings import Finding

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_ENCRYPTED = 0x1
_UTF8 = 0x800
_UNSUPPORTED_FLAGS = 0x20 | 0x40
_STORAGE = re.compile(r"^[^/]+/data/\d+$")
MAX_CRC_BYTES = 1 << 28
"""Members up to this size (256 MiB) get their CRC-32 recomputed (see :func:`member_crc`)."""
_REPACK = "re-save the model with the library that wrote it (torch.save, numpy.savez) or as safetensors"


def _local_name(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    handle = archive.fp
    if handle is None:
        return None
    handle.seek(info.header_offset)
    header = handle.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        return None
    fields = _LOCAL_HEADER.unpack(header)
    raw = handle.read(fields[10])
    return raw.decode("utf-8" if fields[3] & _UTF8 else "cp437", errors="replace")


def _name_problem(name: str) -> str | None:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "climbs out of the extraction folder (..)"
    if "\\" in name:
        return "uses backslashes, which Windows tools read as folders"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds control characters"
    return None


def check_archive(archive: zipfile.ZipFile, member: str, collector: Collector) -> list[zipfile.ZipInfo]:
    """Report member names and flags that make readers disagree; return the members."""
    collector.check("zip member names and flags")
    infos = archive.infolist()
    where = f"{member} > " if member else ""
    for name, count in Counter(info.filename for info in infos).items():
        if count > 1:
            collector.add(
                Finding(
                    "high",
                    "zip.duplicate-name",
                    f"{count} members are named {name!r}: zipfile opens the last by name, other readers the first, "
                    "so a scanner and a loader can read different bytes (every copy is scanned here)",
                    member=f"{where}{name}",
                    instead=_REPACK,
                )
            )
    for info in infos:
        at = f"{where}{info.filename}"
        problem = _name_problem(info.filename)
        if problem:
            collector.add(
                Finding(
                    "medium",
                    "zip.unsafe-name",
                    f"the member name {info.filename!r} {problem}: extracting the archive writes outside its folder",
                    member=at,
                    instead=_REPACK,
                )
            )
        local = _local_name(archive, info)
        if local is not None and local != info.orig_filename:
            collector.add(
                Finding(
                    "high",
                    "zip.name-mismatch",
                    f"the member's local header names it {local!r} but the directory names it "
                    f"{info.orig_filename!r}: readers that walk local headers see a different archive",
                    member=at,
                    offset_bytes=info.header_offset,
                    instead=_REPACK,
                )
            )
        if info.flag_bits & _ENCRYPTED:
            collector.add(
                Finding(
                    "high",
                    "zip.encrypted-flag",
                    "the member is flagged as encrypted: zipfile-based scanners refuse to read it, while PyTorch's "
                    "reader ignores the flag and loads it (scanned here as the loader would read it)",
                    member=at,
                    offset_bytes=info.header_offset,
                    instead=_REPACK,
                )
            )
    return infos


def open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, crc: int | None = None) -> BinaryIO:
    """Open a member by its directory entry as a lenient loader would: flags and local name unchecked.

    Args:
        crc: the CRC-32 the bytes really have (from :func:`member_crc`): checked instead of the
            recorded one, so a tampered CRC does not stop the scan. None: no check at all, and
            the stream reads forwards only.
    """
    relaxed = copy.copy(info)
    relaxed.flag_bits &= ~(_ENCRYPTED | _UNSUPPORTED_FLAGS)
    if crc is None:
        del relaxed.CRC
    else:
        relaxed.CRC = crc
    local = _local_name(archive, info)
    if local is not None:
        relaxed.orig_filename = local
    return archive.open(relaxed)


def member_crc(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The CRC-32 of a member's bytes, streamed (compare with ``info.CRC``)."""
    running = 0
    with open_member(archive, info) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            running = zlib.crc32(block, running)
    return running


def report_bad_crc(info: zipfile.ZipInfo, member: str, collector: Collector) -> None:
    """A member whose CRC no longer matches: it was edited after the archive was written."""
    collector.add(
        Finding(
            "high",
            "zip.bad-crc",
            "the member's CRC-32 does not match its bytes: it was changed after the archive was written (loaders "
            "that skip the check read the changed bytes; they are scanned here)",
            member=member,
            offset_bytes=info.header_offset,
            instead=_REPACK,
        )
    )


def is_storage(info: zipfile.ZipInfo, names: set[str]) -> bool:
    """A ``torch.save`` tensor storage (raw bytes read by the loader, never unpickled)."""
    if not _STORAGE.match(info.filename):
        return False
    return f"{info.filename.split('/', 1)[0]}/data.pkl" in names


def has_pickle_suffix(name: str) -> bool:
    """Whether a member name announces a pickle."""
    return PurePosixPath(name).suffix.lower() in (".pkl", ".pickle", ".debug_pkl", ".joblib")
