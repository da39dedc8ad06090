"""Safe model files: save and load without ever unpickling.

A model saved by bastion is a folder holding ``model.json`` (the spec) and one data file:

- zoo torch models (:mod:`bastion.models.zoo`): ``weights.safetensors``; the spec names the
  architecture and its config, so loading rebuilds the module from bastion's own code and
  fills in tensors only;
- scikit-learn models: ``model.skops`` (skops' audited format; types outside its default
  trust list must be named by the caller);
- ONNX models: ``model.onnx`` (a graph of standard operators, checked before running).

The spec records the SHA-256 of the data file; a mismatch refuses the load. Single files
load too: ``.onnx``, ``.skops``, ``.safetensors`` and torch state dicts (with a spec to
rebuild them), and TorchScript archives only when the caller trusts their code.

Pickle files (``.pkl``, ``.pickle``, ``.joblib``, or any file starting with the pickle
magic bytes) are refused: unpickling runs arbitrary code chosen by the file's author.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bastion.exceptions import BastionError, InputTypeError, UnsafeFileError, ValidationError
from bastion.limits import check_bytes, limits
from bastion.models import zoo
from bastion.models.base import GRADIENTS, LABELS, SCORES, check_input_shape
from bastion.models.onnx import OnnxModel
from bastion.models.onnx_graph import read_onnx
from bastion.models.sklearn import SklearnModel
from bastion.models.torch import TorchModel, module_output_width
from bastion.validation import check_choice, check_scalar

SPEC_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"
SKOPS_FILE = "model.skops"
ONNX_FILE = "model.onnx"
FORMAT = "bastion-model"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
# A spec is a few hundred bytes; anything near this is not one.
SPEC_MAX_BYTES = 1 << 20

# What a torch state dict's pickle imports besides storages and torch._utils' rebuild helpers.
_STATE_DICT_IMPORTS = frozenset({"collections.OrderedDict", "torch.Size", "torch.device", "torch.dtype"})
_SAFE_ALTERNATIVES = (
    "save torch weights with safetensors (bastion.models.io.save), export the model to ONNX "
    "(torch.onnx.export), or save scikit-learn estimators with skops (skops.io.dump)"
)


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_pickle(path: str | Path) -> bool:
    """Whether a file starts with the pickle protocol 2+ magic bytes (``0x80`` then 2..5)."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def check_not_pickle(path: str | Path) -> None:
    """Refuse pickle files, by suffix or by content.

    Raises:
        UnsafeFileError: saying why (loading a pickle runs arbitrary code) and what to use.
    """
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES or (path.is_file() and is_pickle(path)):
        raise UnsafeFileError(
            f"{path}: bastion refuses pickle files: unpickling runs arbitrary code chosen by the file's "
            f"author (joblib and torch's legacy format are pickles too). Instead, {_SAFE_ALTERNATIVES}"
        )


def _version() -> str:
    import bastion

    return bastion.__version__


def _listed(value: Any) -> Any:
    return None if value is None else np.asarray(value, dtype=np.float64).tolist()


def _write_spec(folder: Path, spec: dict[str, Any], data_file: str) -> None:
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **spec,
        "file": data_file,
        "sha256": sha256(folder / data_file),
        "bastion_version": _version(),
    }
    (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")


def save(model: Any, path: str | Path, *, test_accuracy: float | None = None) -> Path:
    """Save a model to a folder that :func:`load` reads back without unpickling.

    Args:
        model: a :class:`TorchModel` whose module is a zoo architecture (``zoo.mlp``,
            ``zoo.small_cnn``), a :class:`SklearnModel`, or an :class:`OnnxModel`.
        path: the folder to write (created if needed; its model files are replaced).
        test_accuracy: the model's accuracy on its test split, in [0, 1], recorded in the
            spec (see :func:`recorded_accuracy`): a later run far below it is flagged as a
            likely scaling mismatch.

    Returns:
        The folder's path.

    Raises:
        ValidationError: a TorchModel whose module is not a zoo architecture (bastion could
            not rebuild it without running your code: export it to ONNX instead), or a path
            that is an existing file.
        InputTypeError: not a bastion model.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"`path` must be a folder to save the model in, got the existing file {str(folder)!r}")
    recorded = (
        {} if test_accuracy is None else {"test_accuracy": check_scalar(test_accuracy, "test_accuracy", low=0, high=1)}
    )
    if isinstance(model, TorchModel):
        if not isinstance(model.module, zoo.ZooNet):
            raise ValidationError(
                f"only zoo architectures (zoo.mlp, zoo.small_cnn) can be saved as weights plus a spec, got a "
                f"{type(model.module).__name__}; export your module with torch.onnx.export and load the .onnx file"
            )
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.module.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        mean, std = model.preprocessing if model.preprocessing is not None else (None, None)
        spec = {
            "kind": "torch",
            "arch": model.module.arch,
            "config": model.module.config,
            "input_shape": list(model.input_shape),
            "n_classes": model.n_classes,
            "clip": list(model.clip),
            "preprocessing": None if model.preprocessing is None else {"mean": _listed(mean), "std": _listed(std)},
        }
        _write_spec(folder, {**spec, **recorded}, WEIGHTS_FILE)
    elif isinstance(model, SklearnModel):
        import skops.io

        folder.mkdir(parents=True, exist_ok=True)
        skops.io.dump(model.estimator, folder / SKOPS_FILE)
        spec = {
            "kind": "sklearn",
            "estimator": type(model.estimator).__name__,
            "input_shape": list(model.input_shape),
            "n_classes": model.n_classes,
            "clip": list(model.clip),
        }
        _write_spec(folder, {**spec, **recorded}, SKOPS_FILE)
    elif isinstance(model, OnnxModel):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ONNX_FILE).write_bytes(model.proto.SerializeToString())
        spec = {
            "kind": "onnx",
            "input_shape": list(model.input_shape),
            "n_classes": model.n_classes,
            "clip": list(model.clip),
            "outputs": model.outputs,
        }
        _write_spec(folder, {**spec, **recorded}, ONNX_FILE)
    else:
        raise InputTypeError(
            f"`model` must be a TorchModel (zoo architecture), SklearnModel or OnnxModel, got {type(model).__name__}"
        )
    return folder


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (a hostile spec may be deep)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return deepest


def recorded_accuracy(path: str | Path) -> float | None:
    """The test accuracy :func:`save` recorded in a model folder's spec; ``None`` for other files or none recorded."""
    path = Path(path)
    if not (path / SPEC_FILE).is_file():
        return None
    value = read_spec(path).get("test_accuracy")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        return None
    return float(value)


def read_spec(path: str | Path) -> dict[str, Any]:
    """Read and check a ``model.json`` spec (a file, or the folder holding it).

    Raises:
        ValidationError: missing file, a file over ``SPEC_MAX_BYTES``, invalid JSON, JSON
            nested deeper than ``bastion.limits`` allows, or not a bastion spec.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SPEC_FILE
    if not path.is_file():
        raise ValidationError(f"{path.parent}: a saved bastion model folder must hold {SPEC_FILE}; not found")
    size = path.stat().st_size
    if size > SPEC_MAX_BYTES:
        raise ValidationError(f"{path}: a spec of {size} bytes is not a bastion spec (at most {SPEC_MAX_BYTES})")
    try:
        spec = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError(f"{path}: not valid JSON: {error}") from error
    except RecursionError as error:
        raise ValidationError(f"{path}: JSON nested too deeply to be a bastion spec") from error
    max_depth = limits().max_json_depth
    if _depth(spec) > max_depth:
        raise ValidationError(f"{path}: JSON nested deeper than {max_depth} levels is not a bastion spec")
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValidationError(f'{path}: not a bastion model spec (expected "format": {FORMAT!r})')
    if spec.get("format_version") != FORMAT_VERSION:
        raise ValidationError(
            f"{path}: spec format_version {spec.get('format_version')!r} is not supported (expected {FORMAT_VERSION})"
        )
    return spec


@contextmanager
def _about(where: Path) -> Iterator[None]:
    """Prefix the file's name to a BastionError raised while building a model from it."""
    try:
        yield
    except BastionError as error:
        if str(where) in str(error):
            raise
        raise type(error)(f"{where}: {error}") from error


def _check_inside(folder: Path, path: Path) -> None:
    """Refuse a file of a model folder that is a link to somewhere outside the folder."""
    if not path.resolve().is_relative_to(folder.resolve()):
        raise UnsafeFileError(
            f"{path}: a link to {path.resolve()}, outside the model folder {folder}; bastion reads a model "
            "folder's own files only (copy the file into the folder instead of linking it)"
        )


def _field(spec: dict[str, Any], key: str, where: Path) -> Any:
    if key not in spec:
        raise ValidationError(f"{where}: the spec lacks the field {key!r}")
    return spec[key]


def _verified_file(folder: Path, spec: dict[str, Any], expected_name: str) -> Path:
    name = _field(spec, "file", folder)
    if name != expected_name:
        raise ValidationError(f"{folder}: the spec names data file {name!r}, expected {expected_name!r}")
    data = folder / name
    if not data.is_file():
        raise ValidationError(f"{folder}: the spec names {name}, which is missing")
    _check_inside(folder, data)
    found = sha256(data)
    if found != _field(spec, "sha256", folder):
        raise UnsafeFileError(
            f"{data}: SHA-256 {found} does not match the {spec['sha256']} recorded in {SPEC_FILE}; "
            "the file was changed or corrupted after it was saved, refusing to load it"
        )
    return data


def _zoo_module(spec: dict[str, Any], where: Path) -> zoo.ZooNet:
    """The spec's architecture on the ``meta`` device: shapes only, no memory, no initialisation.

    Raises:
        ValidationError: a config that does not fit, or parameters over ``bastion.limits``.
    """
    arch = _field(spec, "arch", where)
    config = _field(spec, "config", where)
    if not isinstance(config, dict):
        raise ValidationError(f"{where}: the spec's config must be an object, got {type(config).__name__}")
    problem = f"{where}: the spec's config does not fit architecture {arch!r}"
    try:
        with torch.device("meta"):
            module = zoo.build(arch, config)
    except ValidationError as error:
        raise ValidationError(f"{where}: {error}") from error
    except (TypeError, KeyError, ValueError, RuntimeError) as error:  # InputTypeError included
        raise ValidationError(f"{problem}: {error}") from error
    check_bytes(sum(p.numel() * p.element_size() for p in module.parameters()), f"{where}: the spec's {arch}")
    return module


def _check_shapes(module: torch.nn.Module, shapes: dict[str, tuple[int, ...]], where: Path) -> None:
    """Compare the tensors a file declares with the ones the architecture needs, before reading them."""
    expected = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    if set(shapes) != set(expected):
        missing, unexpected = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
        raise ValidationError(
            f"{where}: the weights do not fit the architecture: missing {missing[:10]}, unexpected {unexpected[:10]}"
        )
    for name, shape in expected.items():
        if tuple(shapes[name]) != shape:
            raise ValidationError(
                f"{where}: the weights do not fit the architecture: {name!r} has shape "
                f"{tuple(shapes[name])}, the architecture needs {shape}"
            )


def _read_safetensors(path: Path, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, after its header was checked against ``module``."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
        _check_shapes(module, shapes, path)
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError) as error:
        raise ValidationError(f"{path}: not a readable safetensors file: {error}") from error


def _fill(module: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> torch.nn.Module:
    """Give the meta-device ``module`` real storage and copy ``state`` into it."""
    _check_shapes(module, {name: tuple(tensor.shape) for name, tensor in state.items()}, where)
    module = module.to_empty(device="cpu")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValidationError(f"{where}: the weights do not fit the architecture: {error}") from error
    return module


def _torch_model(module: torch.nn.Module, spec: dict[str, Any], where: Path) -> TorchModel:
    preprocessing = spec.get("preprocessing")
    if preprocessing is not None:
        if not isinstance(preprocessing, dict):
            raise ValidationError(
                f"{where}: the spec's preprocessing must be an object with mean and std, got {preprocessing!r}"
            )
        preprocessing = (_field(preprocessing, "mean", where), _field(preprocessing, "std", where))
    config = spec.get("config", {})
    with _about(where):
        return TorchModel(
            module,
            input_shape=spec.get("input_shape", config.get("input_shape")),
            n_classes=spec.get("n_classes", config.get("n_classes")),
            clip=spec.get("clip", (0.0, 1.0)),
            preprocessing=preprocessing,
        )


def _load_skops(path: Path, trusted: Sequence[str], *, input_shape: Any = None, clip: Any = (0.0, 1.0)):
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # skops raises zip, JSON and key errors of every kind on a malformed file
        raise ValidationError(
            f"{path}: not a readable skops file (a zip archive holding schema.json): {type(error).__name__}: {error}"
        ) from error
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise UnsafeFileError(
            f"{path}: holds types skops does not trust by default: {refused}. Loading them may run their "
            "code; if you trust the file's author, pass trusted=[...] with these names (CLI: --trust-type)"
        )
    try:
        estimator = skops.io.load(path, trusted=list(untrusted))
    except Exception as error:
        raise ValidationError(f"{path}: not a readable skops file: {error}") from error
    with _about(path):
        return SklearnModel(estimator, input_shape=input_shape, clip=clip)


def _load_folder(folder: Path, trusted: Sequence[str]) -> Any:
    _check_inside(folder, folder / SPEC_FILE)
    spec = read_spec(folder)
    kind = spec.get("kind")
    if kind == "torch":
        data = _verified_file(folder, spec, WEIGHTS_FILE)
        module = _zoo_module(spec, folder)
        module = _fill(module, _read_safetensors(data, module), data)
        return _torch_model(module, spec, folder)
    if kind == "sklearn":
        data = _verified_file(folder, spec, SKOPS_FILE)
        return _load_skops(data, trusted, input_shape=spec.get("input_shape"), clip=spec.get("clip", (0, 1)))
    if kind == "onnx":
        data = _verified_file(folder, spec, ONNX_FILE)
        with _about(folder):
            return OnnxModel(
                data,
                input_shape=spec.get("input_shape"),
                n_classes=spec.get("n_classes"),
                clip=spec.get("clip", (0, 1)),
                outputs=spec.get("outputs", "auto"),
            )
    raise ValidationError(f"{folder}: unknown model kind {kind!r} in {SPEC_FILE} (expected torch, sklearn or onnx)")


def _iterable(value: Any, name: str) -> list[Any]:
    try:
        return list(value)
    except TypeError as error:
        raise InputTypeError(f"`{name}` must be a list, got {value!r}") from error


def _spec_argument(spec: Any) -> dict[str, Any]:
    if isinstance(spec, (str, Path)):
        return read_spec(spec)
    if isinstance(spec, dict):
        return spec
    raise InputTypeError(f"`spec` must be a dict or the path of a {SPEC_FILE}, got {type(spec).__name__}")


def _needs_spec(path: Path, spec: Any) -> dict[str, Any]:
    if spec is None:
        raise ValidationError(
            f"{path}: a state dict holds weights only; pass spec={{'arch': 'small_cnn', 'config': {{...}}}} "
            f"(or the path of a {SPEC_FILE}) so bastion can rebuild the architecture"
        )
    return _spec_argument(spec)


def _pickled_objects(archive: zipfile.ZipFile, path: Path) -> list[str]:
    """The classes a ``torch.save`` archive's pickle would build beyond a state dict's, read without unpickling.

    A state dict's pickle imports only ``collections.OrderedDict``, torch's storages and its
    tensor-rebuilding helpers; ``torch.save(module)`` also imports the module's classes
    (``torch.nn.modules.linear.Linear``, your own ``Net``).
    """
    from bastion.scan.pickles import scan_pickle

    members = [info for info in archive.infolist() if info.filename.endswith("data.pkl")]
    if len(members) != 1:
        return []
    check_bytes(members[0].file_size, f"{path}: the pickle member {members[0].filename}")
    with archive.open(members[0]) as stream:
        scanned = scan_pickle(io.BytesIO(stream.read()), speculative=True)
    if scanned is None:
        return []
    return sorted(
        name
        for name in scanned.imports
        if name not in _STATE_DICT_IMPORTS
        and not name.startswith(("torch._utils.", "builtins.", "__builtin__."))
        and not name.endswith("Storage")
    )


def _is_torchscript(archive: zipfile.ZipFile) -> bool:
    # torch.jit.save archives carry Python source under code/ and constants.pkl.
    return any("/code/" in name or name.endswith("constants.pkl") for name in archive.namelist())


def _load_torch_zip(path: Path, *, trust_code: bool, spec: Any, input_shape: Any, n_classes: Any, clip: Any):
    try:
        with zipfile.ZipFile(path) as archive:
            torchscript = _is_torchscript(archive)
            pickled = [] if torchscript else _pickled_objects(archive, path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValidationError(f"{path}: not a readable zip archive: {error}") from error
    if pickled:
        shown = ", ".join(pickled[:4]) + (", ..." if len(pickled) > 4 else "")
        raise UnsafeFileError(
            f"{path}: a pickled module (the whole nn.Module object, saved with torch.save(module)), which bastion "
            f"never unpickles: loading it would import and run {shown}. Instead save "
            "torch.save(module.state_dict(), path) and load it with the architecture spec (spec={...}), "
            "or export TorchScript (torch.jit.save, loaded with trust_code) or ONNX (torch.onnx.export)"
        )
    if torchscript:
        if not trust_code:
            raise UnsafeFileError(
                f"{path}: a TorchScript archive is code (its forward is a program that runs when called), "
                "not just weights; pass trust_code=True (CLI: --trust-code) only if you trust its author, "
                "or export the model to ONNX instead"
            )
        if input_shape is None:
            raise ValidationError(f"{path}: a TorchScript model does not record its input shape; pass `input_shape`")
        with warnings.catch_warnings():
            # torch deprecates TorchScript; the caller chose this format knowingly.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
        if n_classes is None:
            n_classes = module_output_width(module, check_input_shape(input_shape), "input_shape")
        with _about(path):
            return TorchModel(module, input_shape=input_shape, n_classes=n_classes, clip=clip)
    spec = _needs_spec(path, spec)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        if "weights only" in str(error).lower():
            raise UnsafeFileError(
                f"{path}: torch refused to read it with weights_only=True (it holds more than tensors): {error}"
            ) from error
        raise ValidationError(f"{path}: not a readable torch state dict: {error}") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValidationError(f"{path}: expected a state dict (names to tensors), got {type(state).__name__}")
    module = _fill(_zoo_module(spec, path), state, path)
    return _torch_model(module, spec, path)


def load(
    path: str | Path,
    *,
    trust_code: bool = False,
    trusted: Sequence[str] = (),
    spec: dict[str, Any] | str | Path | None = None,
    input_shape: Sequence[int] | None = None,
    n_classes: int | None = None,
    clip: tuple[float, float] = (0.0, 1.0),
    need: str | None = None,
) -> Any:
    """Load a model without unpickling.

    Args:
        path: a folder written by :func:`save`, or a single file: ``.onnx`` (an
            :class:`OnnxModel`), ``.skops``, ``.safetensors`` or a torch state dict
            ``.pt``/``.pth`` (both need ``spec``), or a TorchScript archive (needs
            ``trust_code``).
        trust_code: accept TorchScript archives, whose forward is code the author wrote.
        trusted: skops type names to trust beyond skops' defaults (e.g.
            ``["sklearn.tree._tree.Tree"]``); the error lists the ones a file needs.
        spec: for bare weights, the architecture to rebuild: ``{"arch": ..., "config":
            ...}`` (optionally ``clip`` and ``preprocessing``), or the path of a ``model.json``.
        input_shape, n_classes, clip: for single files that do not record them (ONNX
            graphs with dynamic dimensions, TorchScript, ``.skops``).
        need: the capability the caller will use, ``"labels"``, ``"scores"`` or
            ``"gradients"`` (``None``: as stored). With ``"gradients"`` an ONNX graph comes
            back as the white-box :class:`TorchModel` of :meth:`OnnxModel.to_torch`, so a
            gradient attack can run on it; other models are returned as loaded.

    Returns:
        A :class:`TorchModel`, :class:`SklearnModel` or :class:`OnnxModel`.

    Raises:
        UnsafeFileError: pickle files, TorchScript without ``trust_code``, untrusted skops
            types, unsafe ONNX, or a data file whose SHA-256 differs from its spec's.
        ValidationError: missing or malformed files.
    """
    if need is not None:
        check_choice(need, "need", (LABELS, SCORES, GRADIENTS))
    return for_capability(
        _load(path, trust_code, trusted, spec, input_shape=input_shape, n_classes=n_classes, clip=clip), need
    )


def for_capability(model: Any, need: str | None) -> Any:
    """The view of ``model`` that offers ``need``: an ONNX graph becomes a TorchModel for gradients.

    Returns ``model`` itself when it already offers ``need``, when ``need`` is ``None`` or
    when no white-box view exists (the attack's :func:`~bastion.models.require` then names
    what is missing).
    """
    if need == GRADIENTS and isinstance(model, OnnxModel) and GRADIENTS not in model.capabilities:
        return model.to_torch()
    return model


def _load(
    path: Any,
    trust_code: bool,
    trusted: Sequence[str],
    spec: dict[str, Any] | str | Path | None,
    *,
    input_shape: Sequence[int] | None,
    n_classes: int | None,
    clip: tuple[float, float],
) -> Any:
    if not isinstance(path, (str, Path)):
        raise InputTypeError(f"`path` must be a file or folder path, got {type(path).__name__}")
    if isinstance(trusted, str) or not all(isinstance(name, str) for name in _iterable(trusted, "trusted")):
        raise InputTypeError(f"`trusted` must be a list of skops type names, got {trusted!r}")
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"`path` must be an existing model file or folder, got {str(path)!r} (not found)")
    if path.is_dir():
        return _load_folder(path, trusted)
    if not path.is_file():
        # A FIFO or a device would block or never end; a model is a regular file.
        raise ValidationError(f"`path` must be a regular file or a folder, got {str(path)!r}")
    check_not_pickle(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxModel(read_onnx(path), input_shape=input_shape, n_classes=n_classes, clip=clip)
    if suffix == ".skops":
        return _load_skops(path, trusted, input_shape=input_shape, clip=clip)
    if suffix == ".json":
        return _load_folder(path.parent, trusted)
    if suffix == ".safetensors":
        spec = _needs_spec(path, spec)
        module = _zoo_module(spec, path)
        module = _fill(module, _read_safetensors(path, module), path)
        return _torch_model(module, spec, path)
    if zipfile.is_zipfile(path):
        return _load_torch_zip(
            path, trust_code=trust_code, spec=spec, input_shape=input_shape, n_classes=n_classes, clip=clip
        )
    raise ValidationError(
        f"{path}: unknown model format; bastion loads a saved model folder, .onnx, .skops, .safetensors, "
        "torch state dicts (.pt) and, with trust_code, TorchScript"
    )
