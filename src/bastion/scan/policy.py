"""Which pickle globals are dangerous, which are known-safe rebuild functions, and what the
rest (unknown) would do.

A pickle names Python objects by ``module`` and ``name``; unpickling imports the module and
calls what it found. The tables below are bastion's own, written from the loaders' sources
and the published scanner bypasses (picklescan's and fickling's issue trackers, the
"pickle-bypass" write-ups on public model hubs): a name is looked up by its longest module
prefix, so ``os.path.join`` falls under ``os`` and ``torch.utils.cpp_extension.load_inline``
under ``torch.utils.cpp_extension``. Nothing is ever imported to decide: importing a module
named by the file would already run its code.
"""

from __future__ import annotations

from dataclasses import dataclass

ANY = "*"

# Known-safe: the functions and classes torch, numpy and scikit-learn pickles rebuild tensors,
# arrays and estimators with, and plain containers. Each does only what its name says.
SAFE: dict[str, frozenset[str]] = {
    "collections": frozenset({"OrderedDict", "defaultdict", "Counter", "deque"}),
    "builtins": frozenset(
        {
            "set",
            "frozenset",
            "list",
            "dict",
            "tuple",
            "int",
            "float",
            "bool",
            "str",
            "bytes",
            "bytearray",
            "complex",
            "slice",
            "range",
            "object",
        }
    ),
    "__builtin__": frozenset(
        {
            "set",
            "frozenset",
            "list",
            "dict",
            "tuple",
            "int",
            "float",
            "bool",
            "str",
            "bytearray",
            "complex",
            "slice",
            "object",
            "unicode",
            "long",
        }
    ),
    "copyreg": frozenset({"_reconstructor", "__newobj__", "__newobj_ex__"}),
    "copy_reg": frozenset({"_reconstructor"}),
    "_codecs": frozenset({"encode"}),
    "torch._utils": frozenset(
        {
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
            "_rebuild_qtensor",
            "_rebuild_sparse_tensor",
            "_rebuild_nested_tensor",
            "_rebuild_meta_tensor_no_storage",
            "_rebuild_device_tensor_from_numpy",
            "_rebuild_device_tensor_from_cpu_tensor",
        }
    ),
    "torch": frozenset(
        {
            "Size",
            "device",
            "dtype",
            "Tensor",
            "FloatStorage",
            "DoubleStorage",
            "HalfStorage",
            "BFloat16Storage",
            "LongStorage",
            "IntStorage",
            "ShortStorage",
            "CharStorage",
            "ByteStorage",
            "BoolStorage",
            "ComplexFloatStorage",
            "ComplexDoubleStorage",
            "QInt8Storage",
            "QUInt8Storage",
            "QInt32Storage",
            "QUInt4x2Storage",
            "QUInt2x4Storage",
            "float32",
            "float64",
            "float16",
            "bfloat16",
            "int64",
            "int32",
            "int16",
            "int8",
            "uint8",
            "bool",
            "complex64",
            "complex128",
            "strided",
            "sparse_coo",
            "contiguous_format",
            "channels_last",
            "channels_last_3d",
            "preserve_format",
            "per_tensor_affine",
            "per_channel_affine",
        }
    ),
    # Unpickles torch.save bytes (pickle.dumps of a tensor): safe only because those bytes are
    # scanned as a nested file (see NESTED_LOADERS).
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage", "_load_from_bytes"}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch.jit._pickle": frozenset(
        {
            "build_intlist",
            "build_tensorlist",
            "build_doublelist",
            "build_boollist",
            "build_tensor_from_id",
            "restore_type_tag",
        }
    ),
    "numpy": frozenset({"ndarray", "dtype"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.random._pickle": frozenset({"__bit_generator_ctor", "__generator_ctor", "__randomstate_ctor"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    "uuid": frozenset({"UUID"}),
    "argparse": frozenset({"Namespace"}),
    # joblib's array wrapper: its data follows raw (or as a pickle, scanned) in the stream.
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "pathlib": frozenset({"Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"}),
}

# TorchScript's own types, restored by TorchScript's unpickler from the archive's code files.
SAFE_PREFIXES = ("__torch__.",)

# Inside these, classes (CapWords names) are scikit-learn estimators and their parts, rebuilt
# through copyreg and __setstate__; functions are left unknown.
SAFE_CLASS_PACKAGES = ("sklearn.",)

_RUNS_COMMANDS = "runs operating-system commands or reads and writes files as the user who loads it"
_RUNS_CODE = "runs arbitrary Python code chosen by the file's author"
_NESTED = "loads another pickle (arbitrary code) from data the file supplies"
_NETWORK = "opens network connections (exfiltration, downloading a second stage)"
_GADGET = (
    "reaches any attribute or callable indirectly, the way published scanner bypasses smuggle os.system past deny-lists"
)

# Dangerous: (severity, what it would do). Looked up by the longest matching module prefix.
DANGEROUS: dict[str, tuple[str, str, frozenset[str] | str]] = {
    "os": ("critical", _RUNS_COMMANDS, ANY),
    "posix": ("critical", _RUNS_COMMANDS, ANY),
    "nt": ("critical", _RUNS_COMMANDS, ANY),
    "subprocess": ("critical", _RUNS_COMMANDS, ANY),
    "pty": ("critical", "spawns a shell", ANY),
    "commands": ("critical", _RUNS_COMMANDS, ANY),
    "shutil": ("critical", "copies, moves or deletes files", ANY),
    "platform": ("critical", _RUNS_COMMANDS, frozenset({"popen", "_syscmd_file", "_syscmd_ver"})),
    "runpy": ("critical", _RUNS_CODE, ANY),
    "code": ("critical", _RUNS_CODE, ANY),
    "codeop": ("critical", _RUNS_CODE, ANY),
    "marshal": ("critical", "loads compiled Python code objects", ANY),
    "types": ("critical", "builds functions from raw code objects", ANY),
    "ctypes": ("critical", "calls native code and writes raw memory", ANY),
    "_ctypes": ("critical", "calls native code and writes raw memory", ANY),
    "importlib": ("critical", "imports any module (its top-level code runs)", ANY),
    "pkgutil": ("critical", "imports any module by name", ANY),
    "zipimport": ("critical", "imports code from a zip file", ANY),
    "pydoc": ("critical", "imports any module by name (pydoc.locate) or runs a pager command", ANY),
    "sys": ("critical", "changes the interpreter (sys.modules, sys.path) or exits it", ANY),
    "builtins": (
        "critical",
        _RUNS_CODE,
        frozenset(
            {
                "eval",
                "exec",
                "compile",
                "__import__",
                "open",
                "breakpoint",
                "input",
                "exit",
                "quit",
                "help",
                "execfile",
                "file",
            }
        ),
    ),
    "__builtin__": (
        "critical",
        _RUNS_CODE,
        frozenset(
            {
                "eval",
                "exec",
                "compile",
                "__import__",
                "open",
                "execfile",
                "file",
                "input",
                "raw_input",
                "apply",
                "breakpoint",
            }
        ),
    ),
    "pickle": ("critical", _NESTED, ANY),
    "_pickle": ("critical", _NESTED, ANY),
    "cPickle": ("critical", _NESTED, ANY),
    "dill": ("critical", _NESTED, ANY),
    "cloudpickle": ("critical", "rebuilds functions from raw code objects", ANY),
    "joblib": ("critical", _NESTED, frozenset({"load"})),
    "numpy": ("critical", _NESTED, frozenset({"load", "loads", "fromfile", "loadtxt", "genfromtxt"})),
    "numpy.lib.npyio": ("critical", _NESTED, ANY),
    "numpy.f2py": ("critical", "compiles and runs Fortran/C, or evaluates strings", ANY),
    "numpy.testing": ("critical", "runs strings as Python (runstring)", ANY),
    "numpy.distutils": ("critical", _RUNS_COMMANDS, ANY),
    "numpy.ctypeslib": ("critical", "loads native libraries", ANY),
    "pandas": ("critical", _NESTED, frozenset({"read_pickle", "eval"})),
    "pandas.io.pickle": ("critical", _NESTED, ANY),
    "torch": ("critical", _NESTED, frozenset({"load", "from_file"})),
    "torch.serialization": ("critical", _NESTED, frozenset({"load", "_load"})),
    "torch.hub": ("critical", "downloads and runs code from a repository", ANY),
    "torch.utils.cpp_extension": ("critical", "compiles and loads native code", ANY),
    "torch._inductor": ("critical", "compiles and runs generated code", ANY),
    "torch._dynamo": ("critical", _RUNS_CODE, ANY),
    "torch.fx.experimental.symbolic_shapes": ("critical", "evaluates strings as Python", ANY),
    "torch.jit": ("critical", "compiles or loads TorchScript programs", ANY),
    "torch.package": ("critical", _NESTED, ANY),
    "torch.utils.collect_env": ("critical", _RUNS_COMMANDS, ANY),
    "torch.utils.bottleneck": ("critical", _RUNS_CODE, ANY),
    "torch.utils._config_module": ("critical", _NESTED, ANY),
    "torch.utils.data.datapipes.utils.decoder": ("critical", _NESTED, ANY),
    "torch.distributed": ("high", _NETWORK, ANY),
    "sklearn.utils._testing": ("critical", "runs Python scripts", ANY),
    "sklearn.externals": ("critical", _NESTED, ANY),
    "socket": ("critical", _NETWORK, ANY),
    "_socket": ("critical", _NETWORK, ANY),
    "ssl": ("critical", _NETWORK, ANY),
    "http": ("critical", _NETWORK, ANY),
    "httplib": ("critical", _NETWORK, ANY),
    "urllib": ("critical", _NETWORK, ANY),
    "urllib2": ("critical", _NETWORK, ANY),
    "requests": ("critical", _NETWORK, ANY),
    "httpx": ("critical", _NETWORK, ANY),
    "aiohttp": ("critical", _NETWORK, ANY),
    "ftplib": ("critical", _NETWORK, ANY),
    "smtplib": ("critical", _NETWORK, ANY),
    "telnetlib": ("critical", _NETWORK, ANY),
    "imaplib": ("critical", _RUNS_COMMANDS, ANY),
    "poplib": ("critical", _NETWORK, ANY),
    "xmlrpc": ("critical", _NETWORK, ANY),
    "webbrowser": ("critical", "opens a browser on a URL of the author's choosing", ANY),
    "asyncio": ("critical", _RUNS_COMMANDS, ANY),
    "multiprocessing": ("critical", _RUNS_CODE, ANY),
    "concurrent": ("critical", _RUNS_CODE, ANY),
    "threading": ("high", "starts a thread running a callable of the file's choosing", ANY),
    "_thread": ("high", "starts a thread running a callable of the file's choosing", ANY),
    "signal": ("high", "changes signal handlers", ANY),
    "pdb": ("critical", _RUNS_CODE, ANY),
    "bdb": ("critical", _RUNS_CODE, ANY),
    "timeit": ("critical", _RUNS_CODE, ANY),
    "cProfile": ("critical", _RUNS_CODE, ANY),
    "profile": ("critical", _RUNS_CODE, ANY),
    "trace": ("critical", _RUNS_CODE, ANY),
    "doctest": ("critical", _RUNS_CODE, ANY),
    "idlelib": ("critical", _RUNS_CODE, ANY),
    "lib2to3": ("critical", _RUNS_CODE, ANY),
    "test": ("critical", _RUNS_CODE, ANY),
    "ensurepip": ("critical", "installs packages", ANY),
    "pip": ("critical", "installs packages", ANY),
    "venv": ("critical", _RUNS_COMMANDS, ANY),
    "setuptools": ("critical", _RUNS_COMMANDS, ANY),
    "distutils": ("critical", _RUNS_COMMANDS, ANY),
    "_osx_support": ("critical", _RUNS_COMMANDS, ANY),
    "_aix_support": ("critical", _RUNS_COMMANDS, ANY),
    "_pyrepl": ("critical", _RUNS_COMMANDS, ANY),
    "uuid": ("critical", _RUNS_COMMANDS, ANY),
    "tempfile": ("high", "creates files", ANY),
    "io": ("critical", "opens files", frozenset({"open", "FileIO", "open_code"})),
    "_io": ("critical", "opens files", ANY),
    "logging": ("high", "creates files or network handlers", frozenset({"FileHandler", "config"})),
    "logging.config": ("critical", "evaluates a configuration (can import and call anything)", ANY),
    "logging.handlers": ("high", _NETWORK, ANY),
    "gc": ("high", "reaches every live object in the interpreter", ANY),
    "inspect": ("high", _GADGET, ANY),
    "operator": ("high", _GADGET, frozenset({"attrgetter", "itemgetter", "methodcaller", "call"})),
    "_operator": ("high", _GADGET, frozenset({"attrgetter", "itemgetter", "methodcaller", "call"})),
    "functools": ("high", _GADGET, frozenset({"partial", "partialmethod", "reduce", "wraps", "update_wrapper"})),
    "_functools": ("high", _GADGET, ANY),
    "copyreg": ("high", "registers extension codes or reducers that later opcodes resolve", ANY),
    "copy_reg": ("high", "registers extension codes or reducers that later opcodes resolve", ANY),
    "itertools": ("high", "calls a function over data (starmap)", frozenset({"starmap"})),
}
# builtins gadgets sit apart from the code-running builtins: their severity is lower alone,
# but a call through them is resolved and judged by its target.
GADGETS = {
    ("builtins", "getattr"),
    ("__builtin__", "getattr"),
    ("builtins", "setattr"),
    ("builtins", "delattr"),
    ("builtins", "globals"),
    ("builtins", "locals"),
    ("builtins", "vars"),
    ("builtins", "type"),
    ("builtins", "map"),
    ("builtins", "filter"),
    ("__builtin__", "apply"),
}

# Loaders whose argument is itself a serialized object: its bytes are scanned as a nested file.
NESTED_LOADERS = {
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("cPickle", "loads"),
    ("dill", "loads"),
    ("torch.storage", "_load_from_bytes"),
    ("numpy", "loads"),
    ("pickle", "load"),
    ("_pickle", "load"),
}


@dataclass(frozen=True)
class Verdict:
    """How bastion judges one global: ``safe``, ``dangerous`` (with a severity) or ``unknown``."""

    kind: str
    severity: str | None
    what: str


def _in(names: frozenset[str] | str, name: str) -> bool:
    return names == ANY or name in names or name.split(".", 1)[0] in names


def _prefixes(module: str):
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        yield ".".join(parts[:end])


def classify(module: str, name: str) -> Verdict:
    """Judge the global ``module.name`` without importing anything.

    Returns:
        A :class:`Verdict`: ``safe`` (a known rebuild function or container), ``dangerous``
        (with the severity and what calling or importing it does) or ``unknown`` (its code
        runs on load; bastion cannot tell what it does).
    """
    if name in SAFE.get(module, ()):
        return Verdict("safe", None, "a known-safe rebuild function")
    head, dot, _ = name.partition(".")
    if dot and head in SAFE.get(module, ()):
        # Protocol 4 resolves dotted names attribute by attribute: object.__subclasses__ and the
        # like reach past an allow-list that only looked at the first name.
        return Verdict("dangerous", "high", f"reaches an attribute of the allowed {module}.{head}: {_GADGET}")
    if (module, name) in GADGETS:
        return Verdict("dangerous", "high", _GADGET)
    for prefix in _prefixes(module):
        entry = DANGEROUS.get(prefix)
        if entry is not None and _in(entry[2], name):
            return Verdict("dangerous", entry[0], entry[1])
    if module.startswith(SAFE_PREFIXES) or name.startswith(SAFE_PREFIXES):
        return Verdict("safe", None, "a TorchScript type defined by the archive's code")
    if module.startswith(SAFE_CLASS_PACKAGES) and name[:1].isupper() and "." not in name:
        return Verdict("safe", None, "a scikit-learn class")
    return Verdict("unknown", "medium", "imports a module bastion does not know and runs its code on load")


def classify_dotted(dotted: str) -> Verdict:
    """Judge a dotted path such as ``os.system`` reached through getattr chains."""
    module, _, name = dotted.rpartition(".")
    return classify(module, name) if module else classify("builtins", name)
