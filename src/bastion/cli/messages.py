"""Library error messages, said in the CLI's words: flags and fixes a command-line user can apply.

The library names its arguments (```path```, ``trusted=[...]``, ``spec={...}``, ``train_fn``)
and its classes (``SquareAttack``); :func:`cli_message` rewrites them into the flags of the
command that failed (``--data``, ``--trust-type``, ``--attack square``) with :data:`TRANSLATIONS`,
then turns any other backquoted argument that names one of the command's options into its flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# (pattern, replacement), applied in order: the specific fixes before the generic names.
TRANSLATIONS: tuple[tuple[str, str], ...] = (
    (
        r"pass trusted=\[\.\.\.\] with these names \(CLI: --trust-type\)",
        "pass --trust-type NAME for each of these names",
    ),
    (r"bastion\.models\.io\.load\(\.\.\., trusted=\[\.\.\.\]\)", "--trust-type NAME"),
    (r"pass trust_code=True \(CLI: --trust-code\)", "pass --trust-code"),
    (r"loaded with trust_code\b", "loaded with --trust-code"),
    (
        r"pass spec=\{'arch': '\w+', 'config': \{\.\.\.\}\} \(or the path of a model\.json\) "
        r"so bastion can rebuild the architecture",
        "the CLI loads weights only with their architecture: save the model with bastion.models.io.save "
        "(a folder with a model.json spec) and pass --model FOLDER, or export it to ONNX",
    ),
    (
        r"load it with the architecture spec \(spec=\{\.\.\.\}\)",
        "with its architecture spec as a folder (bastion.models.io.save), passed as --model FOLDER",
    ),
    (r"`input_shape`", "an input shape (the CLI reads it from a model folder's model.json)"),
    (r"`name_or_path`", "--data"),
    (r"`path` must be an existing \.npz file", "--data must be an existing .npz file"),
    (r"`path` must be an existing (model file or folder|\.onnx file)", r"--model must be an existing \1"),
    (r"`path` must be a regular file or a folder", "--model must be a regular file or a folder"),
    (r"`path` must be an existing access-log file", "--traffic must be an existing access-log file"),
    (r"`path` must hold at least one request", "--traffic must hold at least one request"),
    (r"`path` must be a folder to save the model in", "--out must be a folder to save the model in"),
    (
        r"use a black-box attack \(SquareAttack, HopSkipJump\) or a TorchModel",
        "use a black-box attack (--attack square or --attack hopskipjump; in `bastion evaluate robustness`, "
        "--version blackbox) or a white-box model (a folder from `bastion train`, or an .onnx file)",
    ),
    (
        r"use a label-only attack or a model that returns probabilities",
        "use a label-only attack (--attack hopskipjump) or a model that returns probabilities",
    ),
    (
        r"pass your own train_fn\(x, y, seed\) -> Model instead",
        "the CLI trains shadow and reference models only for a `bastion train` folder or a scikit-learn model; "
        "use --method loss or --method confidence, which train none",
    ),
    (r"\brobustness\(version='(\w+)'\)", r"`bastion evaluate robustness --version \1`"),
    (
        r"Use OnnxModel for black-box attacks instead",
        "use a black-box attack instead (--attack square or --attack hopskipjump; in `bastion evaluate "
        "robustness`, --version blackbox)",
    ),
)
# Attack classes, as `bastion attack evasion` selects them (only for commands with --attack).
ATTACK_CLASSES: tuple[tuple[str, str], ...] = (
    (r"\bSquareAttack\b", "--attack square"),
    (r"\bCarliniWagnerL2\b", "--attack cw"),
    (r"\bAPGD\b", "--attack apgd"),
    (r"\bPGD\b", "--attack pgd"),
    (r"\bFGSM\b", "--attack fgsm"),
)


def cli_message(text: str, flags: Mapping[str, str] | None = None) -> str:
    """``text`` with library names replaced by CLI flags and fixes.

    Args:
        text: a BastionError's message.
        flags: the failing command's parameter names to their flags (``{"n_samples": "--n-samples"}``);
            a backquoted ```n_samples``` in ``text`` becomes ``--n-samples``.
    """
    flags = flags or {}
    for pattern, replacement in TRANSLATIONS + (ATTACK_CLASSES if "attack" in flags else ()):
        text = re.sub(pattern, replacement, text)
    return re.sub(r"`(\w+)`", lambda match: flags.get(match.group(1), match.group(0)), text)
