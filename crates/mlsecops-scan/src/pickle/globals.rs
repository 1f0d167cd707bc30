//! Verdicts on the globals a pickle imports: an allowlist of names known safe
//! for model loading, and a curated table of known-dangerous modules and names.
//!
//! Anything not on the allowlist is at least `Unknown` (MEDIUM). The table only
//! decides *how bad* a non-allowlisted name is, so a gadget missing from the
//! table is still reported.

/// What importing and calling a global can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// On the allowlist.
    Safe,
    /// Not on the allowlist, not known dangerous.
    Unknown,
    /// Opens network connections.
    Network,
    /// Reads, writes or deletes files.
    FileAccess,
    /// Executes code (directly or through a gadget).
    CodeExec,
}

impl Verdict {
    /// The rule id a non-safe verdict reports.
    #[must_use]
    pub fn rule(self) -> Option<&'static str> {
        match self {
            Verdict::Safe => None,
            Verdict::Unknown => Some("PICKLE-UNKNOWN-GLOBAL"),
            Verdict::Network => Some("PICKLE-NETWORK-ACCESS"),
            Verdict::FileAccess => Some("PICKLE-FILE-ACCESS"),
            Verdict::CodeExec => Some("PICKLE-CODE-EXEC"),
        }
    }
}

/// Modules (and all their submodules) whose globals execute code.
const CODE_EXEC_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "_posixsubprocess",
    "subprocess",
    "commands",
    "popen2",
    "sys",
    "runpy",
    "importlib",
    "imp",
    "pkgutil",
    "zipimport",
    "code",
    "codeop",
    "pty",
    "pip",
    "setuptools",
    "distutils",
    "ensurepip",
    "venv",
    "multiprocessing",
    "concurrent",
    "_thread",
    "thread",
    "threading",
    "asyncio",
    "ctypes",
    "_ctypes",
    "cffi",
    "marshal",
    "pickle",
    "_pickle",
    "cPickle",
    "pickletools",
    "dill",
    "cloudpickle",
    "types",
    "timeit",
    "cProfile",
    "profile",
    "_lsprof",
    "pdb",
    "bdb",
    "trace",
    "doctest",
    "idlelib",
    "lib2to3",
    "tkinter",
    "Tkinter",
    "_tkinter",
    "webbrowser",
    "pydoc",
    "antigravity",
    "this",
    "platform",
    "signal",
    "gc",
    "inspect",
    "sysconfig",
    "site",
    "shelve",
    "yaml",
    "jinja2",
    "mako",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "torch.hub",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch._dynamo",
    "torch.fx",
    "torch.jit",
    "torch._inductor",
    "torch.compiler",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "numpy.ctypeslib",
    "pandas.io.pickle",
    "pandas.core.computation",
    "keras.src.utils.python_utils",
    "tensorflow.python.ops.script_ops",
    "_winapi",
    "winreg",
    "msvcrt",
    "_osx_support",
    "crypt",
    "readline",
    "rlcompleter",
    "atexit",
    "faulthandler",
    "resource",
    "fcntl",
    "termios",
    "tty",
    "pwd",
    "grp",
    "spwd",
    "sched",
    "selectors",
    "select",
    "_signal",
    "__pypy__",
    "_io._IOBase",
];

/// Modules whose globals touch the file system.
const FILE_MODULES: &[&str] = &[
    "io",
    "_io",
    "shutil",
    "tempfile",
    "glob",
    "fnmatch",
    "linecache",
    "pathlib",
    "fileinput",
    "zipfile",
    "tarfile",
    "filecmp",
    "mmap",
    "dbm",
    "anydbm",
    "whichdb",
    "dumbdbm",
    "gdbm",
    "sqlite3",
    "_sqlite3",
    "posixpath",
    "ntpath",
    "genericpath",
    "macpath",
    "os.path",
    "csv",
    "logging",
    "mailbox",
    "netrc",
    "plistlib",
    "wave",
    "sndhdr",
    "imghdr",
    "configparser",
    "ConfigParser",
];

/// Modules whose globals open network connections.
const NETWORK_MODULES: &[&str] = &[
    "socket",
    "_socket",
    "ssl",
    "_ssl",
    "http",
    "httplib",
    "urllib",
    "urllib2",
    "urllib3",
    "ftplib",
    "smtplib",
    "poplib",
    "imaplib",
    "telnetlib",
    "nntplib",
    "xmlrpc",
    "xmlrpclib",
    "socketserver",
    "SocketServer",
    "requests",
    "httpx",
    "aiohttp",
    "paramiko",
    "BaseHTTPServer",
    "SimpleHTTPServer",
    "CGIHTTPServer",
    "wsgiref",
    "smtpd",
    "asynchat",
    "asyncore",
    "uuid",
];

/// Specific names, in otherwise harmless modules, that execute code.
const CODE_EXEC_NAMES: &[(&str, &str)] = &[
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "__import__"),
    ("builtins", "getattr"),
    ("builtins", "setattr"),
    ("builtins", "delattr"),
    ("builtins", "globals"),
    ("builtins", "locals"),
    ("builtins", "vars"),
    ("builtins", "breakpoint"),
    ("builtins", "input"),
    ("builtins", "help"),
    ("builtins", "exit"),
    ("builtins", "quit"),
    ("builtins", "execfile"),
    ("builtins", "apply"),
    ("builtins", "reload"),
    ("builtins", "memoryview"),
    ("builtins", "classmethod"),
    ("builtins", "staticmethod"),
    ("builtins", "property"),
    ("builtins", "super"),
    ("builtins", "type"),
    ("operator", "attrgetter"),
    ("operator", "methodcaller"),
    ("operator", "itemgetter"),
    ("operator", "call"),
    ("_operator", "attrgetter"),
    ("_operator", "methodcaller"),
    ("_operator", "itemgetter"),
    ("_operator", "call"),
    ("functools", "partial"),
    ("functools", "reduce"),
    ("functools", "partialmethod"),
    ("functools", "singledispatch"),
    ("functools", "wraps"),
    ("functools", "update_wrapper"),
    ("_functools", "partial"),
    ("_functools", "reduce"),
    ("torch", "load"),
    ("torch.serialization", "load"),
    ("torch.storage", "_load_from_bytes"),
    ("torch", "compile"),
    ("torch.utils.checkpoint", "checkpoint"),
    ("numpy", "load"),
    ("numpy.lib.npyio", "load"),
    ("numpy.lib._npyio_impl", "load"),
    ("numpy", "loads"),
    ("numpy.core.multiarray", "loads"),
    ("numpy", "fromfile"),
    ("pandas", "read_pickle"),
    ("pandas", "eval"),
    ("pandas", "read_csv"),
    ("joblib", "load"),
    ("joblib.numpy_pickle", "load"),
    ("sklearn.utils._testing", "assert_run_python_script"),
    ("copyreg", "add_extension"),
    ("copyreg", "_inverted_registry"),
    ("copy_reg", "add_extension"),
    ("codecs", "open"),
    // Old joblib wrappers load `np.load(<path from the pickle>, allow_pickle=True)`.
    ("joblib.numpy_pickle", "NDArrayWrapper"),
    ("joblib.numpy_pickle", "ZNDArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NDArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "ZNDArrayWrapper"),
    ("_codecs", "lookup"),
    ("codecs", "lookup"),
    ("keras.models", "load_model"),
    ("keras.saving", "load_model"),
    ("builtins", "open"),
];

/// Attribute or module names that, anywhere in a dotted name, reach code execution.
const DANGEROUS_NAME_PARTS: &[&str] = &[
    "__globals__",
    "__builtins__",
    "__subclasses__",
    "__import__",
    "__code__",
    "__class__",
    "__bases__",
    "__base__",
    "__mro__",
    "__dict__",
    "__getattribute__",
    "__getattr__",
    "__reduce__",
    "__reduce_ex__",
    "__init__",
    "__new__",
    "__call__",
    "__loader__",
    "__spec__",
    "__self__",
    "__func__",
    "__closure__",
    "__wrapped__",
    "os",
    "sys",
    "subprocess",
    "builtins",
    "system",
    "popen",
    "spawn",
    "spawnv",
    "spawnl",
    "execv",
    "execve",
    "execl",
    "execvp",
    "eval",
    "exec",
    "compile",
    "getoutput",
    "getstatusoutput",
    "check_output",
    "check_call",
    "run",
    "call",
    "Popen",
    "startfile",
    "posix",
    "nt",
    "importlib",
    "import_module",
    "loads",
    "load",
    "open",
    "remove",
    "unlink",
    "rmtree",
    "modules",
];

/// Exact names known safe for model loading.
const SAFE: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "deque"),
    ("collections", "Counter"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "complex"),
    ("builtins", "bool"),
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("builtins", "object"),
    ("builtins", "NoneType"),
    ("builtins", "Ellipsis"),
    ("builtins", "NotImplemented"),
    ("_codecs", "encode"),
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("copyreg", "__newobj_ex__"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("fractions", "Fraction"),
    ("uuid", "UUID"),
    ("enum", "Enum"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("pathlib", "PurePosixPath"),
    ("pathlib", "PureWindowsPath"),
    ("pathlib", "Path"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.ma.core", "_mareconstruct"),
    ("numpy.ma.core", "MaskedArray"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random", "__RandomState_ctor"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._utils", "_rebuild_qtensor"),
    ("torch._utils", "_rebuild_sparse_tensor"),
    ("torch._utils", "_rebuild_nested_tensor"),
    ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    ("torch._utils", "_rebuild_meta_tensor_no_storage"),
    ("torch._utils", "_rebuild_wrapper_subclass"),
    ("torch._utils", "_rebuild_device_tensor_from_cpu_tensor"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch._tensor", "_rebuild_from_type"),
    ("torch.storage", "UntypedStorage"),
    ("torch.storage", "TypedStorage"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "Tensor"),
    ("torch", "tensor"),
    ("torch", "strided"),
    ("torch", "sparse_coo"),
    ("torch", "sparse_csr"),
    ("torch", "contiguous_format"),
    ("torch", "channels_last"),
    ("torch", "preserve_format"),
    ("torch", "per_tensor_affine"),
    ("torch", "per_channel_affine"),
    ("torch.nn.parameter", "Parameter"),
    ("torch.nn.parameter", "Buffer"),
    ("torch.serialization", "_get_layout"),
    ("torch._utils", "_get_layout"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("torch.jit._pickle", "build_boollist"),
    ("torch.jit._pickle", "build_doublelist"),
    ("torch.jit._pickle", "build_intlist"),
    ("torch.jit._pickle", "build_tensorlist"),
    ("torch.jit._pickle", "build_tensor_from_id"),
    ("torch.jit._pickle", "restore_type_tag"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.internals.blocks", "new_block"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
];

/// torch storage classes and dtypes that appear as plain `torch.<Name>` globals.
const TORCH_TOP_LEVEL: &[&str] = &[
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
    "QUInt8Storage",
    "QInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "short",
    "int8",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
];

/// numpy scalar types that appear as `numpy.<name>`.
const NUMPY_SCALARS: &[&str] = &[
    "float16",
    "float32",
    "float64",
    "float128",
    "longdouble",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "intc",
    "intp",
    "uintp",
    "bool_",
    "bool",
    "complex64",
    "complex128",
    "str_",
    "bytes_",
    "void",
    "datetime64",
    "timedelta64",
    "object_",
    "half",
    "single",
    "double",
    "longlong",
    "ulonglong",
    "short",
    "ushort",
    "byte",
    "ubyte",
    "csingle",
    "cdouble",
];

/// Python 2 module names as `pickle`'s `fix_imports` maps them.
fn py2_module(module: &str) -> Option<&'static str> {
    Some(match module {
        "__builtin__" | "exceptions" => "builtins",
        "copy_reg" => "copyreg",
        "Queue" => "queue",
        "SocketServer" => "socketserver",
        "ConfigParser" => "configparser",
        "repr" => "reprlib",
        "cPickle" => "pickle",
        "StringIO" | "cStringIO" => "io",
        "UserDict" | "UserList" | "UserString" => "collections",
        "commands" => "subprocess",
        "urlparse" => "urllib.parse",
        "urllib2" => "urllib.request",
        "httplib" => "http.client",
        "htmlentitydefs" => "html.entities",
        "HTMLParser" => "html.parser",
        "Cookie" => "http.cookies",
        "cookielib" => "http.cookiejar",
        "BaseHTTPServer" | "SimpleHTTPServer" | "CGIHTTPServer" => "http.server",
        "xmlrpclib" => "xmlrpc.client",
        "thread" => "_thread",
        "dummy_thread" => "_dummy_thread",
        "anydbm" | "whichdb" => "dbm",
        "dbhash" => "dbm.bsd",
        "dumbdbm" => "dbm.dumb",
        "gdbm" => "dbm.gnu",
        "robotparser" => "urllib.robotparser",
        "Tkinter" => "tkinter",
        "_winreg" => "winreg",
        "__main__" => return None,
        _ => return None,
    })
}

/// Python 2 (module, name) pairs renamed by `fix_imports`.
fn py2_name(module: &str, name: &str) -> Option<(&'static str, &'static str)> {
    Some(match (module, name) {
        ("__builtin__", "xrange") => ("builtins", "range"),
        ("__builtin__", "reduce") => ("functools", "reduce"),
        ("__builtin__", "intern") => ("sys", "intern"),
        ("__builtin__", "unichr") => ("builtins", "chr"),
        ("__builtin__", "unicode") => ("builtins", "str"),
        ("__builtin__", "long") => ("builtins", "int"),
        ("__builtin__", "basestring") => ("builtins", "str"),
        ("itertools", "izip") => ("builtins", "zip"),
        ("itertools", "imap") => ("builtins", "map"),
        ("itertools", "ifilter") => ("builtins", "filter"),
        ("UserDict", "IterableUserDict") => ("collections", "UserDict"),
        ("whichdb", "whichdb") => ("dbm", "whichdb"),
        ("commands", "getoutput") => ("subprocess", "getoutput"),
        ("commands", "getstatusoutput") => ("subprocess", "getstatusoutput"),
        _ => return None,
    })
}

fn in_module_list(module: &str, list: &[&str]) -> bool {
    list.iter().any(|m| {
        module == *m
            || (module.len() > m.len()
                && module.starts_with(m)
                && module.as_bytes()[m.len()] == b'.')
    })
}

fn is_class_name(name: &str) -> bool {
    name.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Allowlist membership for one (module, name) pair, after Python 2 mapping.
fn is_safe(module: &str, name: &str) -> bool {
    if SAFE.contains(&(module, name)) {
        return true;
    }
    if name.contains('.') {
        return false;
    }
    match module {
        "torch" => TORCH_TOP_LEVEL.contains(&name),
        "numpy" => NUMPY_SCALARS.contains(&name),
        _ => {
            // Classes (not functions) of well-known estimator libraries: their
            // constructors and `__setstate__` only restore fitted parameters.
            let estimator_lib = [
                "sklearn.",
                "xgboost.",
                "lightgbm.",
                "catboost.",
                "torch.nn.modules.",
                "torch.optim.",
                "numpy.random.",
                "numpy.dtypes",
                "scipy.sparse.",
                "pandas.core.",
            ]
            .iter()
            .any(|p| module.starts_with(p) || module == p.trim_end_matches('.'));
            let risky_submodule = module.contains("_testing")
                || module.contains("externals")
                || module.contains(".utils.fixes");
            if estimator_lib && !risky_submodule {
                if is_class_name(name) {
                    return true;
                }
                // Cython's generated unpickle helpers only restore object state.
                if module.starts_with("sklearn.") && name.starts_with("__pyx_unpickle_") {
                    return true;
                }
                if module.starts_with("scipy.sparse.") {
                    let (kind, rest) = name.split_once('_').unwrap_or((name, ""));
                    return matches!(kind, "csr" | "csc" | "coo" | "bsr" | "dia" | "dok" | "lil")
                        && matches!(rest, "matrix" | "array");
                }
            }
            false
        }
    }
}

fn classify_one(module: &str, name: &str) -> Verdict {
    if SAFE.contains(&(module, name)) {
        return Verdict::Safe;
    }
    // TorchScript archives name their own compiled classes `__torch__.*`;
    // the TorchScript loader resolves them, Python never imports them.
    if (module == "__torch__" || module.starts_with("__torch__."))
        && !name.contains('.')
        && !name.starts_with("__")
    {
        return Verdict::Safe;
    }
    if CODE_EXEC_NAMES.contains(&(module, name)) {
        return if (module, name) == ("builtins", "open") {
            Verdict::FileAccess
        } else {
            Verdict::CodeExec
        };
    }
    if in_module_list(module, CODE_EXEC_MODULES) {
        return Verdict::CodeExec;
    }
    // A dotted name is resolved attribute by attribute (protocol 4
    // `_getattribute`); any step reaching a dangerous object taints it.
    if name.contains('.') && name.split('.').any(|p| DANGEROUS_NAME_PARTS.contains(&p)) {
        return Verdict::CodeExec;
    }
    if name.starts_with("__")
        && name.ends_with("__")
        && name.len() > 4
        && DANGEROUS_NAME_PARTS.contains(&name)
    {
        return Verdict::CodeExec;
    }
    if module == "uuid" && name != "UUID" {
        return Verdict::CodeExec;
    }
    if is_safe(module, name) {
        return Verdict::Safe;
    }
    if in_module_list(module, NETWORK_MODULES) {
        return Verdict::Network;
    }
    if in_module_list(module, FILE_MODULES) {
        return Verdict::FileAccess;
    }
    Verdict::Unknown
}

/// The verdict for `module.name` as `find_class` would resolve it: the raw
/// name and its Python 2 mapping are both judged and the worse one wins.
#[must_use]
pub fn classify(module: &str, name: &str) -> Verdict {
    let mut v = classify_mapped(module, name);
    // `find_class` resolves a dotted name attribute by attribute, so
    // ("torch", "hub.load") is torch.hub.load: judge every module/attribute
    // split of the full path too.
    if name.contains('.') && name.len() <= 512 {
        let parts: Vec<&str> = name.split('.').collect();
        for k in 1..parts.len() {
            let m = format!("{module}.{}", parts[..k].join("."));
            let n = parts[k..].join(".");
            v = worse(v, classify_mapped(&m, &n));
        }
    }
    v
}

fn classify_mapped(module: &str, name: &str) -> Verdict {
    let mut v = classify_one(module, name);
    if let Some((m, n)) = py2_name(module, name) {
        v = worse(v, classify_one(m, n));
    } else if let Some(m) = py2_module(module) {
        v = worse(v, classify_one(m, name));
    }
    v
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    // Dangerous if either reading is; otherwise safe if either reading is on
    // the allowlist (`__builtin__.set` is `builtins.set`).
    let m = a.max(b);
    if m > Verdict::Unknown {
        m
    } else if a == Verdict::Safe || b == Verdict::Safe {
        Verdict::Safe
    } else {
        Verdict::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let cases = [
            ("os", "system", Verdict::CodeExec),
            ("posix", "system", Verdict::CodeExec),
            ("nt", "system", Verdict::CodeExec),
            ("builtins", "eval", Verdict::CodeExec),
            ("__builtin__", "eval", Verdict::CodeExec),
            ("commands", "getoutput", Verdict::CodeExec),
            ("runpy", "_run_code", Verdict::CodeExec),
            ("operator", "attrgetter", Verdict::CodeExec),
            ("functools", "partial", Verdict::CodeExec),
            (
                "asyncio.subprocess",
                "create_subprocess_shell",
                Verdict::CodeExec,
            ),
            (
                "numpy.testing._private.utils",
                "runstring",
                Verdict::CodeExec,
            ),
            ("uuid", "_get_command_stdout", Verdict::CodeExec),
            ("pip._internal.cli.main", "main", Verdict::CodeExec),
            (
                "collections",
                "OrderedDict.__init__.__globals__",
                Verdict::CodeExec,
            ),
            ("torch._utils", "os.system", Verdict::CodeExec),
            ("builtins", "open", Verdict::FileAccess),
            ("shutil", "rmtree", Verdict::FileAccess),
            ("socket", "create_connection", Verdict::Network),
            ("__main__", "MyModel", Verdict::Unknown),
            ("sklearn.utils._testing", "Whatever", Verdict::Unknown),
            ("collections", "OrderedDict", Verdict::Safe),
            ("__builtin__", "set", Verdict::Safe),
            ("copy_reg", "_reconstructor", Verdict::Safe),
            ("torch._utils", "_rebuild_tensor_v2", Verdict::Safe),
            ("torch", "FloatStorage", Verdict::Safe),
            (
                "sklearn.linear_model._logistic",
                "LogisticRegression",
                Verdict::Safe,
            ),
            ("sklearn.tree._tree", "Tree", Verdict::Safe),
            ("torch.nn.modules.linear", "Linear", Verdict::Safe),
            ("numpy.core.multiarray", "_reconstruct", Verdict::Safe),
            ("uuid", "UUID", Verdict::Safe),
            ("torch", "hub._load_local", Verdict::CodeExec),
            (
                "numpy",
                "testing._private.utils.runstring",
                Verdict::CodeExec,
            ),
            ("numpy", "core.multiarray._reconstruct", Verdict::Safe),
            ("pydoc", "pipepager", Verdict::CodeExec),
            ("joblib.numpy_pickle", "NDArrayWrapper", Verdict::CodeExec),
        ];
        for (m, n, want) in cases {
            assert_eq!(classify(m, n), want, "{m}.{n}");
        }
    }
}
