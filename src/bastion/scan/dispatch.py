"""Recognise what a path holds and hand each part to its format's scanner.

Formats are recognised by content, not by name (a pickle renamed ``weights.safetensors`` is
still a pickle): zip archives (``PK``; then skops, TorchScript, ``torch.save``, ``.npz`` by
their members), ``.npy`` (``\\x93NUMPY``), safetensors (a length then ``{``), pickles
(``\\x80`` and a protocol byte, or any stream that parses as one: protocols 0 and 1 have no
magic). ONNX, a protobuf without magic, is recognised by its ``.onnx`` suffix. Archive
members and bytes found inside pickles go through the same recognition, nested up to
:data:`~bastion.scan.collector.MAX_DEPTH` levels. Files are read as streams: a
``torch.save`` checkpoint's tensor storages are never read at all.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bastion.limits import limits
from bastion.scan import folders, onnx_files, safetensors_files, skops_files, torchscript, zips
from bastion.scan.collector import MAX_DEPTH, Collector
from bastion.scan.findings import Finding, ScanReport, sort_findings
from bastion.scan.numpy_files import NPY_MAGIC, scan_npy
from bastion.scan.pickles import scan_pickle

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


class Scanner:
    """Scans one path into a :class:`Collector`."""

    def __init__(self) -> None:
        self.collector = Collector()

    # -- bytes found inside pickles --------------------------------------------------------
    def nested(self, data: bytes, member: str, depth: int, forced: bool) -> tuple[list[Finding], set[str]]:
        """Scan bytes found inside a pickle; a speculative find that is not a known format is dropped."""
        inner = Scanner()
        inner.scan_stream(
            io.BytesIO(data), member, depth=depth, suffix="", size_bytes=len(data), speculative=not forced
        )
        self.collector.checks.extend(c for c in inner.collector.checks if c not in self.collector.checks)
        self.collector.members.extend(inner.collector.members)
        return inner.collector.findings, inner.collector.imports

    # -- streams ---------------------------------------------------------------------------
    def scan_stream(
        self,
        stream: BinaryIO,
        member: str,
        *,
        depth: int,
        suffix: str,
        size_bytes: int,
        folder: Path | None = None,
        speculative: bool = True,
    ) -> str:
        """Recognise and scan one stream; returns the format it was recognised as."""
        collector = self.collector
        if depth > MAX_DEPTH:
            collector.add(
                Finding(
                    "medium",
                    "nesting.too-deep",
                    f"nested more than {MAX_DEPTH} levels deep; not opened (a loader would still open it)",
                    member=member,
                )
            )
            return "unknown"
        head = stream.read(16)
        stream.seek(0)
        if head.startswith(_ZIP_MAGICS):
            return self.scan_zip(stream, member, depth=depth)
        if head.startswith(NPY_MAGIC):
            scan_npy(stream, member, collector, depth=depth, nested=self.nested)
            return "npy"
        if suffix == ".onnx":
            data = self.read_whole(stream, member)
            if data is not None:
                onnx_files.scan_onnx(data, member, collector, folder=folder, size_bytes=size_bytes)
            return "onnx"
        if safetensors_files.looks_like_safetensors(head):
            safetensors_files.scan_safetensors(stream, size_bytes, member, collector)
            return "safetensors"
        magic = len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5
        result = scan_pickle(
            stream, member=member, depth=depth, nested=self.nested, speculative=speculative and not magic
        )
        if result is None:
            return "unknown"
        collector.check("pickle globals and calls")
        collector.extend(result.findings)
        collector.imports.update(result.imports)
        kind = "torch-legacy" if result.torch_legacy else "pickle"
        collector.member(f"{member or '(file)'}: {kind}, protocol {result.protocol}, {result.pickles} pickle(s)")
        return kind

    def read_whole(self, stream: BinaryIO, member: str) -> bytes | None:
        """A member's bytes, read up to ``bastion.limits``' ``max_bytes`` (a zip member may be a bomb).

        Returns ``None``, with a finding, for a member larger than the limit.
        """
        limit = limits().max_bytes
        data = stream.read(limit + 1)
        if len(data) > limit:
            self.collector.add(
                Finding(
                    "medium",
                    "size.over-limit",
                    f"holds more than bastion's limit of {limit} bytes per buffer; not scanned (raise it with "
                    "BASTION_MAX_BYTES or bastion --max-bytes if you trust its size)",
                    member=member,
                )
            )
            return None
        return data

    def scan_zip(self, stream: BinaryIO, member: str, *, depth: int) -> str:
        """Check an archive's names and flags, then scan each member it holds (tensor storages excepted)."""
        collector = self.collector
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            collector.add(
                Finding(
                    "medium",
                    "zip.unreadable",
                    f"the zip archive does not open ({error})",
                    member=member,
                    instead="re-save the file with the library that wrote it",
                )
            )
            return "zip"
        with archive:
            infos = zips.check_archive(archive, member, collector)
            names = {info.filename for info in infos}
            if "schema.json" in names:
                kind = "skops"
                stream.seek(0)
                data = self.read_whole(stream, member)
                if data is not None:
                    skops_files.scan_skops(data, member, collector)
            elif torchscript.is_torchscript(sorted(names)):
                kind = "torchscript"
                torchscript.scan_code(archive, infos, collector)
            elif any(name.endswith("/data.pkl") for name in names):
                kind = "torch-zip"
            else:
                kind = "npz" if names and all(name.endswith(".npy") for name in names) else "zip"
            storages = self.scan_members(archive, infos, names, member, depth=depth, code=kind == "torchscript")
            collector.member(
                f"{member or '(file)'}: {kind} archive, {len(infos)} members"
                + (f" ({storages} tensor storages, read by the loader as raw bytes, not unpickled)" if storages else "")
            )
        return kind

    def scan_members(self, archive, infos, names: set[str], member: str, *, depth: int, code: bool) -> int:
        """Scan every member but tensor storages (and, for TorchScript, its code); returns the storages."""
        storages = 0
        for info in infos:
            if info.is_dir() or (code and info.filename.endswith(".py")):
                continue
            if zips.is_storage(info, names):
                storages += 1
                continue
            at = f"{member} > {info.filename}" if member else info.filename
            try:
                # The CRC pass reads the whole member: skipped for huge ones (a zip bomb would
                # decompress for minutes), whose scan then checks the recorded CRC instead.
                crc = zips.member_crc(archive, info) if info.file_size <= zips.MAX_CRC_BYTES else info.CRC
                if crc != info.CRC:
                    zips.report_bad_crc(info, at, self.collector)
                with zips.open_member(archive, info, crc=crc) as handle:
                    kind = self.scan_stream(
                        handle,
                        at,
                        depth=depth + 1,
                        suffix=PurePosixPath(info.filename).suffix.lower(),
                        size_bytes=info.file_size,
                    )
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
                self.collector.add(
                    Finding(
                        "medium",
                        "zip.unreadable-member",
                        f"the member does not open ({error}); a lenient loader may still read it",
                        member=at,
                    )
                )
                continue
            if kind in ("pickle", "torch-legacy") and not zips.has_pickle_suffix(info.filename):
                self.collector.add(
                    Finding(
                        "medium",
                        "zip.hidden-pickle",
                        f"the member {info.filename!r} is a pickle under a name without a pickle suffix: scanners "
                        "that choose members by name skip it",
                        member=at,
                        instead="store tensors as safetensors; keep nothing executable in model archives",
                    )
                )
        return storages

    # -- paths -----------------------------------------------------------------------------
    def scan_file(self, path: Path, member: str = "") -> str:
        """Scan one file on disk."""
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                kind = self.scan_stream(
                    handle, member, depth=0, suffix=path.suffix.lower(), size_bytes=size, folder=path.parent
                )
        except OSError as error:
            self.collector.add(
                Finding(
                    "medium",
                    "file.unreadable",
                    f"the file cannot be read ({error.strerror or error}); not scanned",
                    member=member,
                    instead="check its permissions and scan it again",
                )
            )
            return "unknown"
        if kind == "unknown" and not member:
            self.collector.add(
                Finding(
                    "info",
                    "format.unknown",
                    "not a model format bastion recognises (pickle, zip, npy, safetensors, ONNX); nothing was checked",
                    instead="scan the model file itself",
                )
            )
        return kind

    def scan_folder(self, folder: Path) -> str:
        """Scan every file under a folder; a bastion model folder also gets its spec checked."""
        kind = "folder"
        if folders.is_model_folder(folder):
            kind = "bastion-folder"
            folders.check_spec(folder, self.collector)
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            relative = path.relative_to(folder).as_posix()
            if relative == "model.json" and kind == "bastion-folder":
                continue
            self.scan_file(path, member=relative)
        return kind


def scan_path(path: Path) -> ScanReport:
    """Scan a file or folder into a :class:`ScanReport`."""
    started = time.perf_counter()
    scanner = Scanner()
    if path.is_dir():
        kind = scanner.scan_folder(path)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    else:
        kind = scanner.scan_file(path)
        size = os.path.getsize(path)
    collector = scanner.collector
    return ScanReport(
        path=str(path),
        format=kind,
        size_bytes=size,
        findings=sort_findings(collector.findings),
        checks=tuple(collector.checks),
        members=tuple(collector.members),
        imports=tuple(sorted(collector.imports)),
        scan_seconds=time.perf_counter() - started,
    )
