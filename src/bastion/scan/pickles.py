"""Static analysis of pickle streams: which globals they import and which calls they make.

The opcodes come from the standard library's :func:`pickletools.genops`, which decodes a
stream one opcode at a time without building any object. On top of it, a symbolic stack
machine follows what the unpickler would do with each opcode: constants, containers, the
memo, ``GLOBAL``/``STACK_GLOBAL`` imports and ``REDUCE``/``NEWOBJ``/``INST``/``OBJ`` calls are
tracked as descriptions, never as objects. Because values flow through the stack and memo
as they would at load time, the machine sees what opcode-pattern scanners miss:

- ``STACK_GLOBAL`` whose module and name strings come from the memo (``BINGET``) or went
  through ``DUP``/``POP`` detours;
- calls whose target is itself a call's result: ``functools.partial(os.system, ...)``,
  ``getattr(__import__("os"), "system")``, ``operator.attrgetter(...)``, resolved to the
  function they reach;
- pickles nested inside pickles (bytes handed to ``pickle.loads``,
  ``torch.storage._load_from_bytes``, or any bytes constant that starts like a pickle or a
  zip), scanned in turn;
- streams that break after their payload (``pickle.load`` runs every opcode before the
  break) and several pickles in a row (legacy ``torch.save`` reads five).

Memory stays bounded by the largest single object in the stream: opcodes are read one at a
time, and bytes constants over :data:`KEEP_BYTES` are kept as their length only.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bastion.scan import joblib_arrays
from bastion.scan.findings import Finding
from bastion.scan.policy import GADGETS, NESTED_LOADERS, classify, classify_dotted

KEEP_BYTES = 1 << 20
"""Bytes constants up to this size are kept whole (to rescan as nested pickles on demand)."""

MAX_CALL_FINDINGS = 50
MAX_CHAIN = 64
"""getattr/attrgetter chains longer than this are left unresolved (reported as unresolved calls)."""
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_LEGACY_PICKLES = 5

NestedScanner = Callable[[bytes, str, int, bool], tuple[list[Finding], set[str]]]
"""``(data, member, depth, forced) -> (findings, imports)``: scans bytes found in a pickle."""


@dataclass(frozen=True)
class Ref:
    """A global the pickle imports (``GLOBAL``, ``STACK_GLOBAL``, ``INST``)."""

    module: str
    name: str
    offset: int

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class Call:
    """The result of calling ``func`` with ``args`` at ``offset``."""

    func: Any
    args: Any
    offset: int


@dataclass(frozen=True)
class Blob:
    """A bytes constant too large to keep: its length and first bytes."""

    length: int
    head: bytes


@dataclass(frozen=True)
class Persistent:
    """A persistent id (``torch.save`` storages): resolved by the loader, not by pickle."""

    pid: Any


@dataclass
class Seq:
    """A tuple, list, dict (flattened key, value pairs) or set under construction."""

    kind: str
    items: list = field(default_factory=list)


class _Unknown:
    def __repr__(self) -> str:
        return "?"


UNKNOWN = _Unknown()
_MARK = object()

_CONSTANTS = {
    "INT",
    "BININT",
    "BININT1",
    "BININT2",
    "LONG",
    "LONG1",
    "LONG4",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
    "BYTEARRAY8",
    "UNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "FLOAT",
    "BINFLOAT",
}
_FIXED = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_EMPTY = {"EMPTY_LIST": "list", "EMPTY_DICT": "dict", "EMPTY_TUPLE": "tuple", "EMPTY_SET": "set"}
_FROM_MARK = {"TUPLE": "tuple", "LIST": "list", "DICT": "dict", "FROZENSET": "frozenset"}
_TUPLE_N = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_MAGICS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK\x03\x04", b"\x93NUMPY")
_IMPORTERS = {("builtins", "__import__"), ("__builtin__", "__import__"), ("importlib", "import_module")}
_GETATTRS = {("builtins", "getattr"), ("__builtin__", "getattr")}
_PARTIALS = {("functools", "partial"), ("_functools", "partial")}
_ATTRGETTERS = {("operator", "attrgetter"), ("_operator", "attrgetter")}
_BYTES_MAKERS = {("_codecs", "encode"), ("builtins", "bytes"), ("builtins", "bytearray"), ("__builtin__", "bytearray")}


@dataclass
class PickleResult:
    """What one stream held: findings, imports, protocol and how many pickles."""

    findings: list[Finding]
    imports: set[str]
    protocol: int
    pickles: int
    torch_legacy: bool


def render(value: Any, budget: int = 160) -> str:
    """A short Python-like description of a symbolic value."""
    text = _render(value, 0)
    return text if len(text) <= budget else text[: budget - 3] + "..."


def _render(value: Any, depth: int) -> str:
    if depth > 4:
        return "..."
    if isinstance(value, Ref):
        return value.dotted
    if isinstance(value, Call):
        args = value.args.items if isinstance(value.args, Seq) else [value.args]
        return f"{_render(value.func, depth + 1)}({', '.join(_render(a, depth + 1) for a in args[:6])})"
    if isinstance(value, Seq):
        inner = ", ".join(_render(v, depth + 1) for v in value.items[:6])
        more = ", ..." if len(value.items) > 6 else ""
        return {"list": f"[{inner}{more}]", "dict": f"{{{inner}{more}}}"}.get(value.kind, f"({inner}{more})")
    if isinstance(value, Blob):
        return f"<{value.length} bytes>"
    if isinstance(value, Persistent):
        return f"persistent_id({_render(value.pid, depth + 1)})"
    if isinstance(value, (str, bytes)) and len(value) > 240:
        return repr(value[:237]) + "..."
    return repr(value)


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return None
    return None


def _key(value: Any) -> tuple[str, str] | None:
    return (value.module, value.name) if isinstance(value, Ref) else None


def _arg(call_args: Any, index: int) -> Any:
    if isinstance(call_args, Seq) and len(call_args.items) > index:
        return call_args.items[index]
    return UNKNOWN


class _Machine:
    """Follows one pickle stream, opcode by opcode, on symbolic values."""

    def __init__(self, *, member: str, base_offset: int, depth: int, nested: NestedScanner | None) -> None:
        self.member = member
        self.base = base_offset
        self.depth = depth
        self.nested = nested
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}
        self.findings: list[Finding] = []
        self.imports: dict[str, tuple[Ref, int]] = {}
        self.called: set[tuple[str, str]] = set()
        self.call_texts: set[str] = set()
        self.scanned_blobs: set[int] = set()
        self.nested_imports: set[str] = set()
        self.pending_array: joblib_arrays.ArrayLayout | None = None
        self.protocol = 0
        self.result: Any = UNKNOWN
        self.anomalies: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    def add(self, severity: str, check: str, what: str, offset: int | None, node: str = "", **extra: str) -> None:
        where = None if offset is None else self.base + offset
        self.findings.append(Finding(severity, check, what, member=self.member, offset_bytes=where, node=node, **extra))

    def pop(self) -> Any:
        if not self.stack or self.stack[-1] is _MARK:
            self.anomaly("pops an empty stack")
            return UNKNOWN
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        items: list[Any] = []
        while self.stack:
            top = self.stack.pop()
            if top is _MARK:
                items.reverse()
                return items
            items.append(top)
        self.anomaly("uses a MARK that was never pushed")
        items.reverse()
        return items

    def top(self) -> Any:
        return self.stack[-1] if self.stack and self.stack[-1] is not _MARK else UNKNOWN

    def anomaly(self, text: str) -> None:
        self.anomalies.add(text)

    # -- constants and nested data ---------------------------------------------------------
    def constant(self, value: Any, offset: int) -> Any:
        data = _as_bytes(value) if not isinstance(value, str) or len(value) >= 8 else None
        if data is not None and len(data) >= 8 and data.startswith(_MAGICS):
            self.scan_nested(data, offset, forced=False)
        if isinstance(value, (bytes, bytearray)) and len(value) > KEEP_BYTES:
            return Blob(len(value), bytes(value[:16]))
        return value

    def scan_nested(self, data: bytes, offset: int, *, forced: bool) -> None:
        # The same bytes are met twice when pushed (magic sniffed) and handed to a loader.
        if self.nested is None or hash(data) in self.scanned_blobs:
            return
        self.scanned_blobs.add(hash(data))
        inside = f"nested at byte {self.base + offset}"
        member = f"{self.member} > {inside}" if self.member else inside
        findings, imports = self.nested(data, member, self.depth + 1, forced)
        self.findings.extend(findings)
        self.nested_imports.update(imports)

    # -- imports and calls -----------------------------------------------------------------
    def global_(self, module: str, name: str, offset: int) -> Ref:
        ref = Ref(module, name, offset)
        first, count = self.imports.get(ref.dotted, (ref, 0))
        self.imports[ref.dotted] = (first, count + 1)
        return ref

    def dotted(self, value: Any, depth: int = 0) -> str | None:
        """The dotted path a value stands for, following importers, getattr and attrgetter."""
        if isinstance(value, Ref):
            return value.dotted
        if isinstance(value, Call) and depth < MAX_CHAIN:
            key = _key(value.func)
            first = _arg(value.args, 0)
            if key in _IMPORTERS and isinstance(first, str):
                return first
            if key in _GETATTRS and isinstance(_arg(value.args, 1), str):
                base = self.dotted(first, depth + 1)
                return None if base is None else f"{base}.{_arg(value.args, 1)}"
            inner = value.func
            if isinstance(inner, Call) and _key(inner.func) in _ATTRGETTERS and isinstance(_arg(inner.args, 0), str):
                base = self.dotted(first, depth + 1)
                return None if base is None else f"{base}.{_arg(inner.args, 0)}"
        return None

    def call(self, func: Any, args: Any, offset: int) -> Any:
        target, bound, via = func, [], []
        while isinstance(target, Call) and _key(target.func) in _PARTIALS:
            via.append("functools.partial")
            items = target.args.items if isinstance(target.args, Seq) else []
            bound = items[1:] + bound
            target = items[0] if items else UNKNOWN
        all_args = Seq("tuple", bound + (args.items if isinstance(args, Seq) else [args]))
        key = _key(target)
        if key is not None:
            self.called.add(key)
        dotted = self.dotted(target)

        def shown() -> str:
            # Rendered only for a finding: most calls (tensor rebuilds) never need it.
            if key is None and dotted is not None:
                via.append(render(target))
            return f"calls {dotted or render(target)}({', '.join(render(a, 240) for a in all_args.items[:4])})"

        if dotted is None:
            self.add(
                "high",
                "pickle.unresolved-call",
                f"calls {render(target)}, an object the scan cannot trace to a name (built at load time)",
                offset,
            )
        else:
            verdict = classify_dotted(dotted) if key is None else classify(*key)
            if verdict.kind == "dangerous" and key not in GADGETS:
                self.call_finding(verdict.severity, shown, verdict.what, via, offset, dotted)
            elif verdict.kind == "unknown" and key is None:
                self.call_finding("high", shown, verdict.what, via, offset, dotted)
        self.check_nested_argument(key, all_args, offset)
        return self.call_result(key, all_args, offset, func)

    def call_finding(
        self, severity: str, text: Callable[[], str], what: str, via: list[str], offset: int, node: str
    ) -> None:
        if len(self.call_texts) >= MAX_CALL_FINDINGS:
            return
        described = text()
        through = f" through {' and '.join(via)}" if via else ""
        message = f"{described}{through} when unpickled: {what}"
        if message in self.call_texts:
            return
        self.call_texts.add(message)
        self.add(severity, "pickle.dangerous-call", message, offset, node)

    def check_nested_argument(self, key: tuple[str, str] | None, args: Seq, offset: int) -> None:
        if key not in NESTED_LOADERS:
            return
        data = _as_bytes(_arg(args, 0))
        if data is not None:
            self.scan_nested(data, offset, forced=True)
        elif key == ("torch.storage", "_load_from_bytes"):
            self.add(
                "high",
                "pickle.nested-unscanned",
                "hands data the scan cannot read to torch.storage._load_from_bytes, which unpickles it",
                offset,
                "torch.storage._load_from_bytes",
            )

    def call_result(self, key: tuple[str, str] | None, args: Seq, offset: int, func: Any) -> Any:
        # Bytes built by protocol 2's _codecs.encode(...) stay bytes, so nested pickles are found.
        if key in _BYTES_MAKERS and isinstance(_arg(args, 0), (str, bytes)):
            value = _as_bytes(_arg(args, 0))
            if value is not None:
                return self.constant(value, offset)
        return Call(func, args, offset)

    # -- the opcodes -----------------------------------------------------------------------
    def step(self, name: str, arg: Any, offset: int) -> bool:
        """Apply one opcode; False at STOP."""
        stack = self.stack
        if name in _CONSTANTS:
            stack.append(self.constant(arg, offset))
        elif name in _FIXED:
            stack.append(_FIXED[name])
        elif name in _EMPTY:
            stack.append(Seq(_EMPTY[name]))
        elif name == "MARK":
            stack.append(_MARK)
        elif name in _FROM_MARK:
            stack.append(Seq(_FROM_MARK[name], self.pop_mark()))
        elif name in _TUPLE_N:
            items = [self.pop() for _ in range(_TUPLE_N[name])]
            stack.append(Seq("tuple", items[::-1]))
        elif name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
            self.extend(name)
        elif name == "POP":
            if stack:
                stack.pop()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            stack.append(self.top())
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                self.anomaly(f"reads memo slot {arg}, never written")
            stack.append(self.memo.get(arg, UNKNOWN))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[arg] = self.top()
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        else:
            return self.step_objects(name, arg, offset)
        return True

    def extend(self, name: str) -> None:
        if name == "APPEND":
            items = [self.pop()]
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            items = [key, value]
        else:
            items = self.pop_mark()
        target = self.top()
        if isinstance(target, Seq):
            if len(target.items) < 100_000:
                target.items.extend(items)
        elif target is not UNKNOWN and not isinstance(target, Ref):
            # list.append / dict.__setitem__ on an object built by a call: its methods run.
            self.called_method(target, name)

    def called_method(self, target: Any, name: str) -> None:
        if isinstance(target, Call) and isinstance(target.func, Ref):
            verdict = classify(target.func.module, target.func.name)
            if verdict.kind == "dangerous":
                method = "append/extend" if "APPEND" in name else "__setitem__"
                self.call_finding(
                    verdict.severity,
                    lambda: f"calls {method} on {render(target)}",
                    verdict.what,
                    [],
                    target.offset,
                    target.func.dotted,
                )

    def step_objects(self, name: str, arg: Any, offset: int) -> bool:
        stack = self.stack
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            ref = self.global_(module, attr, offset)
            stack.append(ref if name == "GLOBAL" else self.call(ref, Seq("tuple", self.pop_mark()), offset))
        elif name == "STACK_GLOBAL":
            attr, module = self.pop(), self.pop()
            if isinstance(module, str) and isinstance(attr, str):
                stack.append(self.global_(module, attr, offset))
            else:
                self.add(
                    "high",
                    "pickle.computed-global",
                    f"imports a global whose name is computed at load time ({render(module)}.{render(attr)}); "
                    "the scan cannot tell what it imports",
                    offset,
                )
                stack.append(UNKNOWN)
        elif name == "REDUCE":
            args, func = self.pop(), self.pop()
            stack.append(self.call(func, args, offset))
        elif name == "NEWOBJ":
            args, cls = self.pop(), self.pop()
            stack.append(self.new(cls, args, offset))
        elif name == "NEWOBJ_EX":
            _, args, cls = self.pop(), self.pop(), self.pop()
            stack.append(self.new(cls, args, offset))
        elif name == "OBJ":
            items = self.pop_mark()
            cls = items[0] if items else UNKNOWN
            stack.append(self.call(cls, Seq("tuple", items[1:]), offset))
        elif name == "BUILD":
            state = self.pop()
            try:
                self.pending_array = joblib_arrays.layout(_key(getattr(self.top(), "func", None)), state)
            except ValueError as error:
                self.add("medium", "pickle.joblib-array", f"{error}: the scan cannot read past it", offset)
        elif name == "PERSID":
            stack.append(Persistent(arg))
        elif name == "BINPERSID":
            stack.append(Persistent(self.pop()))
        elif name in ("EXT1", "EXT2", "EXT4"):
            self.add(
                "high",
                "pickle.extension-code",
                f"imports the global registered under copyreg extension code {arg}: the registry lives in the "
                "loading process, so the scan cannot see what it resolves to",
                offset,
            )
            stack.append(UNKNOWN)
        elif name == "NEXT_BUFFER":
            stack.append(UNKNOWN)
        elif name == "PROTO":
            self.protocol = int(arg)
        elif name == "STOP":
            self.result = self.pop()
            return False
        return True

    def new(self, cls: Any, args: Any, offset: int) -> Any:
        # cls.__new__(cls, *args): the class's own code runs, so it is judged like a call.
        if isinstance(cls, Ref):
            return Call(cls, args, offset)
        return self.call(cls, args, offset)

    # -- the end ---------------------------------------------------------------------------
    def import_findings(self) -> None:
        for dotted, (ref, count) in self.imports.items():
            verdict = classify(ref.module, ref.name)
            if verdict.kind == "safe":
                continue
            times = f" ({count} times)" if count > 1 else ""
            if verdict.kind == "dangerous":
                if (ref.module, ref.name) in self.called and (ref.module, ref.name) not in GADGETS:
                    continue
                what = f"imports {dotted}{times}, which {verdict.what}"
                self.add(verdict.severity, "pickle.dangerous-global", what, ref.offset, dotted)
            else:
                what = f"imports {dotted}{times} and runs its code on load (bastion does not know this module)"
                self.add(
                    "medium",
                    "pickle.unknown-global",
                    what,
                    ref.offset,
                    dotted,
                    instead="if you trust its author, load it with the library that wrote it; otherwise ask for "
                    "safetensors or ONNX",
                )


def _run(machine: _Machine, stream: BinaryIO) -> tuple[bool, str | None, int]:
    """Feed ``stream`` to ``machine`` until STOP; (stopped, error, opcodes seen)."""
    seen = 0
    try:
        for opcode, arg, pos in pickletools.genops(stream):
            seen += 1
            offset = 0 if pos is None else pos
            if opcode.proto > machine.protocol and opcode.name != "PROTO":
                machine.protocol = max(machine.protocol, opcode.proto)
            if not machine.step(opcode.name, arg, offset):
                return True, None, seen
            if machine.pending_array is not None:
                _past_joblib_array(machine, stream)
    except (ValueError, EOFError, OverflowError, MemoryError, UnicodeDecodeError) as error:
        return False, str(error) or type(error).__name__, seen
    return False, "the stream ends without a STOP opcode", seen


def _past_joblib_array(machine: _Machine, stream: BinaryIO) -> None:
    """Step over the array data joblib wrote after a wrapper's BUILD (a nested pickle is scanned)."""
    layout, machine.pending_array = machine.pending_array, None
    if layout.nested_pickle:
        inner = _Machine(member=machine.member, base_offset=machine.base, depth=machine.depth, nested=machine.nested)
        _run(inner, stream)
        inner.import_findings()
        machine.findings.extend(inner.findings)
        machine.nested_imports.update(inner.imports, inner.nested_imports)
        return
    padding = stream.read(1)[0] if layout.aligned else 0
    stream.seek(padding + layout.data_bytes, io.SEEK_CUR)


def scan_pickle(
    stream: BinaryIO,
    *,
    member: str = "",
    base_offset: int = 0,
    depth: int = 0,
    nested: NestedScanner | None = None,
    speculative: bool = False,
) -> PickleResult | None:
    """Analyse every pickle in ``stream``, one after another, without unpickling.

    Args:
        stream: a readable, seekable binary stream positioned at the first opcode.
        member: where the stream lives (an archive member), for the findings' location.
        base_offset: added to offsets (a pickle after an ``.npy`` header).
        depth: how deeply nested this stream is (nested pickles are scanned up to a limit).
        nested: scans bytes found inside the pickle (see :data:`NestedScanner`).
        speculative: the stream only might be a pickle: return None unless it parses.

    Returns:
        A :class:`PickleResult`, or None for a speculative stream that is not a pickle.
    """
    findings: list[Finding] = []
    imports: set[str] = set()
    protocol, count, legacy = 0, 0, False
    while True:
        start = stream.tell()
        machine = _Machine(member=member, base_offset=base_offset, depth=depth, nested=nested)
        stopped, error, seen = _run(machine, stream)
        if count == 0 and speculative and not stopped and not machine.imports:
            return None
        if count > 0 and not stopped and not machine.imports:
            # Not another pickle: what follows the last STOP is data pickle.load never reads.
            if not legacy:
                _trailing(findings, member, base_offset + start)
            break
        machine.import_findings()
        findings.extend(machine.findings)
        imports.update(machine.imports, machine.nested_imports)
        protocol = max(protocol, machine.protocol)
        count += 1
        for text in sorted(machine.anomalies):
            findings.append(
                Finding(
                    "medium",
                    "pickle.malformed",
                    f"the stream {text}; real unpicklers fail or misbehave here, a sign of a hand-crafted file",
                    member=member,
                    offset_bytes=base_offset + start,
                )
            )
        if not stopped:
            findings.append(
                Finding(
                    "medium",
                    "pickle.malformed",
                    f"the pickle breaks after {seen} opcodes ({error}); pickle.load runs every opcode before the "
                    "break, so whatever is reported above would still happen",
                    member=member,
                    offset_bytes=base_offset + stream.tell(),
                )
            )
            break
        if count == 1 and machine.result == TORCH_LEGACY_MAGIC:
            legacy = True
        if legacy and count >= TORCH_LEGACY_PICKLES:
            break
        if not stream.read(1):
            break
        stream.seek(-1, io.SEEK_CUR)
    return PickleResult(findings, imports, protocol, count, legacy)


def _trailing(findings: list[Finding], member: str, offset: int) -> None:
    findings.append(
        Finding(
            "info",
            "pickle.trailing-data",
            "bytes follow the pickle's STOP opcode; pickle.load ignores them, a loader that reads on may not",
            member=member,
            offset_bytes=offset,
            instead="re-save the object so the file holds nothing else",
        )
    )
