"""TorchScript archives: the code files they carry, and calls in them beyond tensor math.

A ``torch.jit.save`` archive stores its program as Python-syntax source under
``<archive>/code/``; ``torch.jit.load`` compiles and runs it. The source is parsed with
:mod:`ast` (parsed, never compiled or run) and every call is checked: operators of
namespaces outside PyTorch's own (``torch.ops.<ns>`` and ``torch.classes.<ns>`` need a native
library the loader must have loaded), tensor functions that read or map files
(``torch.from_file``), and names TorchScript never emits itself (``open``, ``eval``, ``os``).
"""

from __future__ import annotations

import ast
import zipfile

from bastion.scan.collector import Collector
from bastion.scan.findings import Finding

STANDARD_NAMESPACES = frozenset({"aten", "prim", "quantized", "_quantized", "profiler", "_caffe2", "_c10d_functional"})
FILE_FUNCTIONS = frozenset({"from_file", "save", "load", "_load_for_lite_interpreter"})
FOREIGN_NAMES = frozenset(
    {"open", "eval", "exec", "compile", "__import__", "os", "sys", "subprocess", "socket", "builtins", "importlib"}
)
_INSTEAD = "export the model to ONNX (standard operators only), or save its weights as safetensors"


def is_torchscript(names: list[str]) -> bool:
    """Whether an archive's member names are those of ``torch.jit.save``."""
    return any(name.endswith(".py") and ("/code/" in name or name.startswith("code/")) for name in names)


def _chain(node: ast.AST) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return []


def _check_chain(chain: list[str], member: str, line: int, collector: Collector) -> None:
    start = 1 if chain[:1] == ["torch"] else 0
    head = chain[start : start + 2]
    if len(head) == 2 and head[0] in ("ops", "classes") and head[1] not in STANDARD_NAMESPACES:
        kind = "operator" if head[0] == "ops" else "class"
        collector.add(
            Finding(
                "high",
                "torchscript.custom-op",
                f"calls the custom {kind} {'.'.join(chain)} (line {line}): native code from a library of "
                f"namespace {head[1]!r} that the loader must load, outside tensor math bastion can inspect",
                member=member,
                node=".".join(chain),
                instead=_INSTEAD,
            )
        )
    if chain[-1] in FILE_FUNCTIONS and (chain[:1] == ["torch"] or chain[:2] == ["ops", "aten"]):
        collector.add(
            Finding(
                "high",
                "torchscript.file-access",
                f"calls {'.'.join(chain)} (line {line}): reads or maps a file from inside the model's forward",
                member=member,
                node=".".join(chain),
                instead=_INSTEAD,
            )
        )


def scan_code(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], collector: Collector) -> None:
    """List the archive's code files and flag calls outside tensor math."""
    collector.check("torchscript code")
    for info in infos:
        if not info.filename.endswith(".py"):
            continue
        collector.member(f"{info.filename}: TorchScript code, {info.file_size} bytes")
        try:
            tree = ast.parse(archive.read(info).decode("utf-8"), filename=info.filename)
        except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError) as error:
            collector.add(
                Finding(
                    "medium",
                    "torchscript.bad-code",
                    f"the code file does not parse as TorchScript ({error})",
                    member=info.filename,
                    instead=_INSTEAD,
                )
            )
            continue
        nodes = list(ast.walk(tree))
        inner = {id(node.value) for node in nodes if isinstance(node, ast.Attribute)}
        for node in nodes:
            if isinstance(node, ast.Attribute) and id(node) not in inner:
                chain = _chain(node)
                if chain:
                    _check_chain(chain, info.filename, node.lineno, collector)
            elif isinstance(node, ast.Name) and node.id in FOREIGN_NAMES:
                collector.add(
                    Finding(
                        "critical",
                        "torchscript.python-call",
                        f"uses {node.id} (line {node.lineno}), which TorchScript never emits: the code was edited "
                        "by hand to reach the operating system or Python itself",
                        member=info.filename,
                        node=node.id,
                        instead=_INSTEAD,
                    )
                )
