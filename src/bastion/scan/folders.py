"""bastion model folders (``model.json`` plus one data file): the spec's record of the data
file, and its SHA-256.

:func:`bastion.models.io.save` records the SHA-256 of the weights it writes; a data file that
no longer matches was changed after it was saved (weights silently replaced), even when its
format is harmless. The spec must also name a file inside the folder.
"""

from __future__ import annotations

from pathlib import Path

from bastion.exceptions import ValidationError
from bastion.models import io
from bastion.scan.collector import Collector
from bastion.scan.findings import Finding

_RESAVE = "retrain or re-export the model and save it again with bastion.models.io.save (bastion train)"


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding a bastion ``model.json``."""
    return path.is_dir() and (path / io.SPEC_FILE).is_file()


def check_spec(folder: Path, collector: Collector) -> None:
    """Check the spec of a bastion model folder against its data file."""
    collector.check("bastion spec and SHA-256")
    try:
        spec = io.read_spec(folder)
    except ValidationError as error:
        collector.add(Finding("medium", "folder.bad-spec", str(error), member=io.SPEC_FILE, instead=_RESAVE))
        return
    name = spec.get("file")
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        collector.add(
            Finding(
                "high",
                "folder.bad-file",
                f"the spec names the data file {name!r}, which is not a file name "
                "inside the folder: a loader following it reads another file",
                member=io.SPEC_FILE,
                instead=_RESAVE,
            )
        )
        return
    data = folder / name
    if not data.is_file():
        collector.add(
            Finding(
                "medium",
                "folder.missing-file",
                f"the spec names {name}, which is missing",
                member=io.SPEC_FILE,
                instead=_RESAVE,
            )
        )
        return
    found = io.sha256(data)
    recorded = spec.get("sha256")
    collector.member(f"{name}: {spec.get('kind')} model data, SHA-256 {found[:16]}...")
    if found != recorded:
        collector.add(
            Finding(
                "high",
                "folder.sha256-mismatch",
                f"the SHA-256 of {name} is {found}, not the {recorded} recorded in {io.SPEC_FILE}: the file changed "
                "after it was saved (weights replaced or corrupted); bastion.models.io.load refuses it",
                member=name,
                node=name,
                instead=_RESAVE,
            )
        )
