#!/usr/bin/env python3
"""Generate the `mlsecops scan` test corpus.

Writes tests/corpus/{malicious,suspicious,benign,malformed}/ (relative to this
file, replacing whatever is there) and tests/corpus/expected.json.

Rules of the house:
  * Nothing written here is ever loaded, unpickled or imported by this script.
    Malicious pickles are emitted opcode by opcode (or with a pickler that only
    sees inert marker objects); real libraries (numpy, h5py, onnx, safetensors,
    gguf, scikit-learn, joblib) are only used to *write* benign shapes.
  * Payloads are harmless: `echo mlsecops-test`, `print('mlsecops-test')`,
    `1+1`, `/dev/null`, 127.0.0.1 port 9 ...
  * Output is byte-for-byte deterministic: fixed seeds, fixed zip/tar/gzip
    timestamps, sorted manifest.

Run with the venv made by setup-venv.sh (python >= 3.11).
"""

from __future__ import annotations

import base64
import bz2
import collections
import copyreg
import gzip
import hashlib
import io
import json
import lzma
import os
import pickle
import random
import shutil
import struct
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KIND_DIRS = ("malicious", "suspicious", "benign", "malformed")
MAX_FILE = 200 * 1024
MAX_TOTAL = 5 * 1024 * 1024

SAMPLES: list[dict] = []
BIG_OK: set[str] = set()  # sample paths allowed to exceed MAX_FILE

CMD = "echo mlsecops-test"
PY_SNIPPET = "print('mlsecops-test')"


# --------------------------------------------------------------------------
# manifest / output helpers
# --------------------------------------------------------------------------

def _register(path: str, kind: str, rules, technique: str) -> None:
    assert kind in KIND_DIRS, kind
    assert path.split("/", 1)[0] == kind, path
    assert not any(s["path"] == path for s in SAMPLES), path
    SAMPLES.append({"path": path, "kind": kind, "rules": sorted(rules), "technique": technique})


def _write(rel: str, data: bytes) -> None:
    p = HERE / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def add(path: str, kind: str, rules, technique: str, data: bytes) -> None:
    """A single-file sample."""
    _register(path, kind, rules, technique)
    _write(path, data)


def add_dir(path: str, kind: str, rules, technique: str, files: dict[str, bytes]) -> None:
    """A directory sample (HF repo folder, SavedModel dir, ...)."""
    _register(path, kind, rules, technique)
    for name, data in sorted(files.items()):
        _write(f"{path}/{name}", data)


def add_in_dir(path: str, kind: str, rules, technique: str, data: bytes) -> None:
    """A single file that must carry a fixed file name, so it lives in its own folder."""
    add(path, kind, rules, technique, data)


def jdump(obj, indent=2) -> bytes:
    return (json.dumps(obj, indent=indent) + "\n").encode()


# --------------------------------------------------------------------------
# pickle opcode emitter
# --------------------------------------------------------------------------

OP = pickle  # opcode constants: OP.GLOBAL, OP.REDUCE, ...


def proto(n: int) -> bytes:
    return OP.PROTO + bytes([n])


def frame(body: bytes) -> bytes:
    return OP.FRAME + struct.pack("<Q", len(body)) + body


def sbu(s: str) -> bytes:
    b = s.encode()
    assert len(b) < 256
    return OP.SHORT_BINUNICODE + bytes([len(b)]) + b


def bu(s: str) -> bytes:
    b = s.encode()
    return OP.BINUNICODE + struct.pack("<I", len(b)) + b


def sbb(b: bytes) -> bytes:
    assert len(b) < 256
    return OP.SHORT_BINBYTES + bytes([len(b)]) + b


def binbytes(b: bytes) -> bytes:
    return OP.BINBYTES + struct.pack("<I", len(b)) + b


def glob(module: str, name: str) -> bytes:
    return OP.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n"


def sglob(module: str, name: str) -> bytes:
    """protocol 4 STACK_GLOBAL with SHORT_BINUNICODE operands, memoized like CPython does."""
    return sbu(module) + OP.MEMOIZE + sbu(name) + OP.MEMOIZE + OP.STACK_GLOBAL + OP.MEMOIZE


def binint(n: int) -> bytes:
    if 0 <= n < 0x100:
        return OP.BININT1 + bytes([n])
    if 0 <= n < 0x10000:
        return OP.BININT2 + struct.pack("<H", n)
    return OP.BININT + struct.pack("<i", n)


def binput(i: int) -> bytes:
    return OP.BINPUT + bytes([i])


def binget(i: int) -> bytes:
    return OP.BINGET + bytes([i])


def long_binput(i: int) -> bytes:
    return OP.LONG_BINPUT + struct.pack("<I", i)


def long_binget(i: int) -> bytes:
    return OP.LONG_BINGET + struct.pack("<I", i)


def tup(*items: bytes) -> bytes:
    """Tuple of already-encoded items (protocol >= 2 short forms)."""
    n = len(items)
    body = b"".join(items)
    if n == 0:
        return OP.EMPTY_TUPLE
    if n <= 3:
        return body + {1: OP.TUPLE1, 2: OP.TUPLE2, 3: OP.TUPLE3}[n]
    return OP.MARK + body + OP.TUPLE


def lst(*items: bytes) -> bytes:
    return OP.EMPTY_LIST + (OP.MARK + b"".join(items) + OP.APPENDS if items else b"")


def call(func: bytes, *args: bytes) -> bytes:
    return func + tup(*args) + OP.REDUCE


def p2(body: bytes) -> bytes:
    return proto(2) + body + OP.STOP


def p4(body: bytes) -> bytes:
    """protocol 4 pickle with one FRAME around the whole body, as CPython writes it."""
    return proto(4) + frame(body + OP.STOP)


def os_system_p2(module="os", name="system") -> bytes:
    return p2(call(glob(module, name), bu(CMD)) + binput(0))


PAYLOAD_P2 = os_system_p2()


# --------------------------------------------------------------------------
# a pickler that serialises inert marker objects into real-looking streams
# (used for torch-shaped pickles: exact CPython memo/framing behaviour, but
# no torch, no fake modules, nothing importable)
# --------------------------------------------------------------------------

class G:
    """Reference to module.name, emitted as GLOBAL / STACK_GLOBAL."""
    _cache: dict = {}

    def __new__(cls, module: str, name: str):
        key = (module, name)
        if key not in cls._cache:
            o = object.__new__(cls)
            o.module, o.name = module, name
            cls._cache[key] = o
        return cls._cache[key]


class Reduce:
    """func(*args) [+ BUILD state]; newobj=True emits NEWOBJ (cls.__new__(cls, *args))."""

    def __init__(self, func, args=(), state=None, newobj=False):
        self.func, self.args, self.state, self.newobj = func, tuple(args), state, newobj


class PersId:
    """BINPERSID with the given persistent id tuple (torch storages)."""

    def __init__(self, pid):
        self.pid = pid


class MarkerPickler(pickle._Pickler):  # pure-python pickler, extended dispatch
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_g(self, obj):
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(OP.STACK_GLOBAL)
        else:
            self.write(glob(obj.module, obj.name))
        self.memoize(obj)

    def _save_reduce(self, obj):
        self.save(obj.func)
        self.save(obj.args)
        self.write(OP.NEWOBJ if obj.newobj else OP.REDUCE)
        self.memoize(obj)
        if obj.state is not None:
            self.save(obj.state)
            self.write(OP.BUILD)

    def _save_persid(self, obj):
        self.save(obj.pid, save_persistent_id=False)
        self.write(OP.BINPERSID)

    dispatch[G] = _save_g
    dispatch[Reduce] = _save_reduce
    dispatch[PersId] = _save_persid


def mdumps(obj, protocol=2) -> bytes:
    buf = io.BytesIO()
    MarkerPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


OD = collections.OrderedDict


class TorchStorages:
    """Collects storages for a torch-shaped pickle; tensors reference them by key."""

    def __init__(self, legacy=False, key_base=0):
        self.items: list[tuple[str, np.ndarray]] = []
        self.legacy = legacy
        self.key_base = key_base

    def tensor(self, arr: np.ndarray, requires_grad=False):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        key = str(self.key_base + len(self.items) * 64) if self.legacy else str(len(self.items))
        self.items.append((key, arr))
        pid = ("storage", G("torch", "FloatStorage"), key, "cpu", int(arr.size))
        if self.legacy:
            pid = pid + (None,)
        stride = tuple(int(s // arr.itemsize) for s in arr.strides)
        return Reduce(G("torch._utils", "_rebuild_tensor_v2"),
                      (PersId(pid), 0, tuple(arr.shape), stride, requires_grad, OD()))

    def parameter(self, arr: np.ndarray):
        return Reduce(G("torch._utils", "_rebuild_parameter"), (self.tensor(arr), True, OD()))


def rng_arr(seed: int, *shape) -> np.ndarray:
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


def torch_state_dict(st: TorchStorages, extra: dict | None = None) -> OD:
    sd = OD()
    sd["fc1.weight"] = st.tensor(rng_arr(1, 8, 4))
    sd["fc1.bias"] = st.tensor(rng_arr(2, 8))
    sd["fc2.weight"] = st.tensor(rng_arr(3, 2, 8))
    sd["fc2.bias"] = st.tensor(rng_arr(4, 2))
    for k, v in (extra or {}).items():
        sd[k] = v
    sd._metadata = OD([("", {"version": 1}), ("fc1", {"version": 1}), ("fc2", {"version": 1})])
    return sd


def os_system_marker(cmd=CMD):
    return Reduce(G("os", "system"), (cmd,))


def torch_payload_pickle() -> tuple[bytes, list]:
    """Real-shaped torch state_dict pickle with one os.system REDUCE as a value."""
    st = TorchStorages()
    sd = torch_state_dict(st, {"_mlsecops_hook": os_system_marker()})
    return mdumps(sd, 2), st.items


# --------------------------------------------------------------------------
# zip writers
# --------------------------------------------------------------------------

DOS_TIME, DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00


class ZipBuilder:
    """Hand-rolled zip writer: full control over every header field."""

    def __init__(self, prefix: bytes = b""):
        self.out = bytearray(prefix)
        self.central: list[bytes] = []

    def local(self, name, data, *, method=0, crc=None, csize=None, usize=None, flags=0,
              extra=b"", version=20, raw=None, dtime=DOS_TIME, ddate=DOS_DATE) -> dict:
        """Write a local header + data. `raw` = already compressed bytes."""
        nb = name.encode() if isinstance(name, str) else name
        if raw is None:
            raw = data if method == 0 else _deflate(data)
        info = {
            "offset": len(self.out), "crc": zlib.crc32(data) if crc is None else crc,
            "csize": len(raw) if csize is None else csize,
            "usize": len(data) if usize is None else usize,
            "method": method, "flags": flags, "name": nb, "version": version,
            "dtime": dtime, "ddate": ddate,
        }
        self.out += struct.pack("<IHHHHHIIIHH", 0x04034B50, version, flags, method, dtime, ddate,
                                info["crc"], info["csize"], info["usize"], len(nb), len(extra))
        self.out += nb + extra + raw
        return info

    def central_entry(self, info: dict, *, name=None, offset=None, crc=None, csize=None,
                      usize=None, method=None, flags=None, external_attr=0o644 << 16,
                      made_by=0x031E, extra=b"") -> None:
        nb = info["name"] if name is None else (name.encode() if isinstance(name, str) else name)
        self.central.append(struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, made_by, info["version"],
            info["flags"] if flags is None else flags,
            info["method"] if method is None else method, info["dtime"], info["ddate"],
            info["crc"] if crc is None else crc,
            info["csize"] if csize is None else csize,
            info["usize"] if usize is None else usize,
            len(nb), len(extra), 0, 0, 0, external_attr,
            info["offset"] if offset is None else offset) + nb + extra)

    def add(self, name, data, method=0, **kw) -> dict:
        info = self.local(name, data, method=method)
        self.central_entry(info, **kw)
        return info

    def finish(self, *, cd_offset=None, cd_size=None, count=None, comment=b"") -> bytes:
        cd = b"".join(self.central)
        off = len(self.out)
        self.out += cd
        self.out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0,
                                len(self.central) if count is None else count,
                                len(self.central) if count is None else count,
                                len(cd) if cd_size is None else cd_size,
                                off if cd_offset is None else cd_offset, len(comment)) + comment
        return bytes(self.out)


def _deflate(data: bytes, level=6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def simple_zip(members: list[tuple[str, bytes]], method=0, prefix=b"") -> bytes:
    z = ZipBuilder(prefix)
    for name, data in members:
        info = z.local(name, data, method=method)
        z.central_entry(info, offset=info["offset"])
    return z.finish()


def pyzip(members: list[tuple[str, bytes]], compression=zipfile.ZIP_STORED,
          force_zip64=False) -> bytes:
    """zipfile-module zip with fixed timestamps (what numpy/keras produce, minus the clock)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = compression
            zi.external_attr = 0o644 << 16
            zi.create_system = 3
            with zf.open(zi, "w", force_zip64=force_zip64) as f:
                f.write(data)
    return buf.getvalue()


def torch_zip(records: list[tuple[str, bytes]], archive="archive") -> bytes:
    """Zip laid out like PyTorchStreamWriter (miniz) does for torch.save:
    stored members, data 64-byte aligned via an 'FB' extra field of 'Z' padding,
    general purpose flags 0x0808 with a data descriptor after each member,
    DOS time/date 0, ZIP64 end-of-central-directory record + locator."""
    out = bytearray()
    central = []
    names = [f"{archive}/{n}" for n, _ in records]
    for (name, data), full in zip(records, names):
        nb = full.encode()
        off = len(out)
        start = off + 30 + len(nb) + 4
        pad = (-start) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(nb), len(extra))
        out += nb + extra
        assert len(out) % 64 == 0
        out += data
        out += struct.pack("<IIII", 0x08074B50, crc, len(data), len(data))
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0, 0, 0, crc,
                                   len(data), len(data), len(nb), 0, 0, 0, 0, 0, off) + nb)
    cd = b"".join(central)
    cd_off = len(out)
    out += cd
    z64_off = len(out)
    n = len(central)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x002D, 0, 0, n, n, len(cd), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_off, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                       len(cd), cd_off, 0)
    return bytes(out)


def serialization_id(records: list[tuple[str, bytes]]) -> bytes:
    h = hashlib.sha256()
    for n, d in records:
        h.update(n.encode() + b"\0" + d)
    digits = str(int.from_bytes(h.digest()[:16], "little")).zfill(40)[:40]
    return digits.encode()


def torch_save_zip(data_pkl: bytes, storages: list, archive="archive",
                   pickle_name="data.pkl") -> bytes:
    """Records in the order torch.save (2.x) writes them."""
    recs = [(pickle_name, data_pkl), (".format_version", b"1"), (".storage_alignment", b"64"),
            ("byteorder", b"little")]
    for key, arr in storages:
        recs.append((f"data/{key}", arr.tobytes()))
    recs.append(("version", b"3\n"))
    recs.append((".data/serialization_id", serialization_id(recs)))
    return torch_zip(recs, archive)


def torchscript_zip(constants_pkl: bytes, archive="archive") -> bytes:
    """TorchScript (torch.jit.save) shaped archive."""
    st = TorchStorages()
    weight = st.tensor(rng_arr(7, 2, 4), requires_grad=True)
    state = {"training": False, "_is_full_backward_hook": None, "weight": weight}
    model = Reduce(G("__torch__", "Model"), (), state=state, newobj=True)
    data_pkl = mdumps(model, 2)
    code = (b"class Model(Module):\n"
            b"  __parameters__ = [\"weight\", ]\n"
            b"  __buffers__ = []\n"
            b"  weight : Tensor\n"
            b"  training : bool\n"
            b"  _is_full_backward_hook : Optional[bool]\n"
            b"  def forward(self: __torch__.Model,\n"
            b"    x: Tensor) -> Tensor:\n"
            b"    weight = self.weight\n"
            b"    return torch.linear(x, weight)\n")
    recs = [("data.pkl", data_pkl), ("code/__torch__.py", code), ("constants.pkl", constants_pkl)]
    for key, arr in st.items:
        recs.append((f"data/{key}", arr.tobytes()))
    recs += [("version", b"3\n"), ("byteorder", b"little")]
    recs.append((".data/serialization_id", serialization_id(recs)))
    return torch_zip(recs, archive)


# --------------------------------------------------------------------------
# tar / compression helpers
# --------------------------------------------------------------------------

def tar_bytes(members: list[tuple[str, bytes]], fmt=tarfile.PAX_FORMAT, links=()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            tf.addfile(ti, io.BytesIO(data))
        for name, target in links:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.mtime, ti.mode = tarfile.SYMTYPE, target, 0, 0o777
            ti.uname = ti.gname = ""
            tf.addfile(ti)
    return buf.getvalue()


def gz(data: bytes, level=9) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=level) as f:
        f.write(data)
    return buf.getvalue()


# --------------------------------------------------------------------------
# numpy .npy helpers
# --------------------------------------------------------------------------

def npy_header(descr: str, shape: tuple, fortran=False) -> bytes:
    d = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, shape)
    total = 10 + len(d) + 1
    d = d + " " * ((-total) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin1")


def npy_numeric(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=(1, 0))
    return buf.getvalue()


def object_array_payload_pickle() -> bytes:
    """Protocol 3 pickle shaped like numpy's object-array dump, one element is os.system(...)."""
    body = (glob("numpy.core.multiarray", "_reconstruct") + binput(0)
            + glob("numpy", "ndarray") + binput(1)
            + binint(0) + OP.TUPLE1 + binput(2) + sbb(b"b") + binput(3) + OP.TUPLE3 + binput(4)
            + OP.REDUCE + binput(5)
            + OP.MARK + binint(1) + binint(2) + OP.TUPLE1 + binput(6)
            + glob("numpy", "dtype") + binput(7) + bu("O8") + binput(8)
            + OP.NEWFALSE + OP.NEWTRUE + OP.TUPLE3 + binput(9) + OP.REDUCE + binput(10)
            + OP.MARK + binint(3) + bu("|") + binput(11) + OP.NONE * 3
            + OP.BININT + struct.pack("<i", -1) + OP.BININT + struct.pack("<i", -1)
            + binint(63) + OP.TUPLE + binput(12) + OP.BUILD
            + OP.NEWFALSE + OP.EMPTY_LIST + binput(13)
            + OP.MARK + bu("weights") + call(glob("os", "system"), bu(CMD)) + OP.APPENDS
            + OP.TUPLE + binput(14) + OP.BUILD)
    return proto(3) + body + OP.STOP


# --------------------------------------------------------------------------
# protobuf encoder (TensorFlow SavedModel)
# --------------------------------------------------------------------------

def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_key(field: int, wt: int) -> bytes:
    return varint(field << 3 | wt)


def pb_int(field: int, n: int) -> bytes:
    return pb_key(field, 0) + varint(n)


def pb_bytes(field: int, b: bytes) -> bytes:
    return pb_key(field, 2) + varint(len(b)) + b


def pb_str(field: int, s: str) -> bytes:
    return pb_bytes(field, s.encode())


DT_FLOAT, DT_INT32, DT_STRING, DT_RESOURCE = 1, 3, 7, 20


def tf_shape(dims) -> bytes:
    if dims is None:
        return pb_int(3, 1)  # unknown_rank
    return b"".join(pb_bytes(2, pb_int(1, d)) for d in dims)


def av_type(t):
    return pb_int(6, t)


def av_s(s: str):
    return pb_str(2, s)


def av_b(v: bool):
    return pb_int(5, int(v))


def av_shape(dims):
    return pb_bytes(7, tf_shape(dims))


def av_list_type(types):
    return pb_bytes(1, pb_bytes(6, b"".join(varint(t) for t in types)) if types else b"")


def av_list_s(strs):
    return pb_bytes(1, b"".join(pb_str(2, s) for s in strs))


def av_func(name: str):
    return pb_bytes(10, pb_str(1, name))


def av_string_tensor(values: list[str], dims):
    t = pb_int(1, DT_STRING) + pb_bytes(2, tf_shape(dims)) + b"".join(pb_str(8, v) for v in values)
    return pb_bytes(8, t)


def node(name: str, op: str, inputs=(), attrs=None, device="") -> bytes:
    b = pb_str(1, name) + pb_str(2, op) + b"".join(pb_str(3, i) for i in inputs)
    if device:
        b += pb_str(4, device)
    for k in sorted(attrs or {}):
        b += pb_bytes(5, pb_str(1, k) + pb_bytes(2, attrs[k]))
    return b


def const_str(name: str, values, dims=()) -> bytes:
    if isinstance(values, str):
        values = [values]
    return node(name, "Const", (), {"dtype": av_type(DT_STRING), "value": av_string_tensor(values, dims)})


def placeholder(name: str, dtype=DT_FLOAT, dims=(-1, 4)) -> bytes:
    return node(name, "Placeholder", (), {"dtype": av_type(dtype), "shape": av_shape(dims)})


def function_def(name: str, nodes: list[bytes], in_args, out_args, ret: dict) -> bytes:
    sig = pb_str(1, name)
    sig += b"".join(pb_bytes(2, pb_str(1, a) + pb_int(3, t)) for a, t in in_args)
    sig += b"".join(pb_bytes(3, pb_str(1, a) + pb_int(3, t)) for a, t in out_args)
    b = pb_bytes(1, sig) + b"".join(pb_bytes(3, n) for n in nodes)
    for k in sorted(ret):
        b += pb_bytes(4, pb_str(1, k) + pb_str(2, ret[k]))
    return b


def saved_model(nodes: list[bytes], functions=(), saver=None, signature=None) -> bytes:
    graph = b"".join(pb_bytes(1, n) for n in nodes)
    if functions:
        graph += pb_bytes(2, b"".join(pb_bytes(1, f) for f in functions))
    graph += pb_bytes(4, pb_int(1, 1645) + pb_int(2, 12))  # VersionDef producer/min_consumer
    meta_info = (pb_str(1, "") + pb_str(4, "serve") + pb_str(5, "2.15.0")
                 + pb_str(6, "v2.15.0-rc1-8-g6887368d6d4"))
    mg = pb_bytes(1, meta_info) + pb_bytes(2, graph)
    if saver:
        mg += pb_bytes(3, saver)
    if signature:
        mg += pb_bytes(5, signature)
    return pb_int(1, 1) + pb_bytes(2, mg)


def tensor_info(name: str, dtype: int, dims) -> bytes:
    return pb_str(1, name) + pb_int(2, dtype) + pb_bytes(3, tf_shape(dims))


def serving_signature() -> bytes:
    sig = (pb_bytes(1, pb_str(1, "x") + pb_bytes(2, tensor_info("serving_default_x:0", DT_FLOAT, (-1, 4))))
           + pb_bytes(2, pb_str(1, "output_0") + pb_bytes(2, tensor_info("StatefulPartitionedCall:0", DT_FLOAT, (-1, 2))))
           + pb_str(3, "tensorflow/serving/predict"))
    return pb_str(1, "serving_default") + pb_bytes(2, sig)


# --------------------------------------------------------------------------
# fake secrets (format-valid, generated from a fixed seed)
# --------------------------------------------------------------------------

_SECRET_RNG = random.Random(0x5EC12E7)
_UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_B32 = _UP + "234567"
_ALNUM = _UP + _UP.lower() + "0123456789"


def _rand(alphabet: str, n: int) -> str:
    return "".join(_SECRET_RNG.choice(alphabet) for _ in range(n))


AWS_KEY_ID = "AKIA" + _rand(_B32, 16)
AWS_SECRET = _rand(_ALNUM + "+/", 40)
GH_TOKEN = "ghp_" + _rand(_ALNUM, 36)
HF_TOKEN = "hf_" + _rand(_UP + _UP.lower(), 34)


# --------------------------------------------------------------------------
# MALICIOUS PICKLES
# --------------------------------------------------------------------------

def gen_malicious_pickles() -> None:
    M = "malicious"
    CE = ["PICKLE-CODE-EXEC"]

    add(f"{M}/pickle_p0_os_system.pkl", M, CE, "protocol 0 GLOBAL os.system + REDUCE",
        b"cos\nsystem\n(S'" + CMD.encode() + b"'\ntR.")
    add(f"{M}/pickle_p2_posix_system.pkl", M, CE, "protocol 2 GLOBAL posix.system + REDUCE",
        os_system_p2("posix", "system"))
    add(f"{M}/pickle_p2_nt_system.pkl", M, CE, "protocol 2 GLOBAL nt.system + REDUCE",
        os_system_p2("nt", "system"))
    add(f"{M}/pickle_p4_stack_global_builtins_eval.pkl", M, CE,
        "protocol 4 STACK_GLOBAL builtins.eval, SHORT_BINUNICODE operands + MEMOIZE",
        p4(sglob("builtins", "eval") + sbu("1+1") + OP.MEMOIZE + OP.TUPLE1 + OP.MEMOIZE
           + OP.REDUCE + OP.MEMOIZE))

    # strings memoized early as dict content, STACK_GLOBAL operands fetched from the memo
    body = (OP.EMPTY_DICT + binput(0) + OP.MARK
            + sbu("module") + binput(1) + sbu("os") + binput(2)
            + sbu("function") + binput(3) + sbu("system") + binput(4)
            + OP.SETITEMS + OP.POP
            + binget(2) + binget(4) + OP.STACK_GLOBAL + binput(5)
            + sbu(CMD) + OP.TUPLE1 + OP.REDUCE)
    add(f"{M}/pickle_p4_stack_global_memo_binget.pkl", M, CE,
        "STACK_GLOBAL operands fetched with BINGET from strings memoized by BINPUT", p4(body))

    filler = b"".join(binint(i) + long_binput(1000 + i) + OP.POP for i in range(300))
    body = (filler + sbu("subprocess") + long_binput(70000) + OP.POP
            + sbu("getoutput") + long_binput(70001) + OP.POP
            + long_binget(70000) + long_binget(70001) + OP.STACK_GLOBAL + long_binput(70002)
            + sbu(CMD) + OP.TUPLE1 + OP.REDUCE)
    add(f"{M}/pickle_p4_stack_global_memo_long_binget.pkl", M, CE,
        "STACK_GLOBAL operands fetched with LONG_BINGET from strings memoized by LONG_BINPUT", p4(body))

    # names computed at load time
    body = (sglob("builtins", "str") + sbu("os") + OP.TUPLE1 + OP.REDUCE + OP.MEMOIZE
            + sbu("system") + OP.MEMOIZE + OP.STACK_GLOBAL + OP.MEMOIZE
            + sbu(CMD) + OP.TUPLE1 + OP.REDUCE)
    add(f"{M}/pickle_p4_dynamic_global_module_from_reduce.pkl", M, ["PICKLE-DYNAMIC-GLOBAL"],
        "STACK_GLOBAL whose module operand is the result of builtins.str('os')", p4(body))
    body = (sbu("os") + OP.MEMOIZE
            + sglob("builtins", "str") + sbu("system") + OP.TUPLE1 + OP.REDUCE + binput(10) + OP.POP
            + binget(10) + OP.STACK_GLOBAL + OP.MEMOIZE
            + sbu(CMD) + OP.TUPLE1 + OP.REDUCE)
    add(f"{M}/pickle_p4_dynamic_global_name_via_memo.pkl", M, ["PICKLE-DYNAMIC-GLOBAL"],
        "STACK_GLOBAL whose name operand is a call result stored in and fetched from the memo", p4(body))

    add(f"{M}/pickle_p0_inst_subprocess_check_output.pkl", M, CE,
        "protocol 0 INST subprocess.check_output(['echo', 'mlsecops-test'])",
        b"((S'echo'\nS'mlsecops-test'\nlp0\nisubprocess\ncheck_output\np1\n.")
    add(f"{M}/pickle_p1_obj_os_system.pkl", M, CE, "protocol 1 OBJ opcode with class os.system",
        b"(cos\nsystem\n" + bu(CMD) + b"o.")
    add(f"{M}/pickle_p2_newobj_subprocess_popen.pkl", M, CE,
        "protocol 2 NEWOBJ subprocess.Popen(['echo', 'mlsecops-test'])",
        p2(glob("subprocess", "Popen") + binput(0) + tup(lst(bu("echo"), bu("mlsecops-test")))
           + OP.NEWOBJ + binput(1)))
    args = OP.EMPTY_LIST + OP.MEMOIZE + OP.MARK + sbu("echo") + OP.MEMOIZE + sbu("mlsecops-test") \
        + OP.MEMOIZE + OP.APPENDS + OP.TUPLE1 + OP.MEMOIZE
    kwargs = OP.EMPTY_DICT + OP.MEMOIZE + sbu("shell") + OP.MEMOIZE + OP.NEWFALSE + OP.SETITEM
    add(f"{M}/pickle_p4_newobj_ex_subprocess_popen.pkl", M, CE,
        "protocol 4 NEWOBJ_EX subprocess.Popen(args, **{'shell': False})",
        p4(sglob("subprocess", "Popen") + args + kwargs + OP.NEWOBJ_EX + OP.MEMOIZE))

    for op, code, nm in ((OP.EXT1, struct.pack("<B", 0xF1), "ext1"),
                         (OP.EXT2, struct.pack("<H", 0x1F2A), "ext2"),
                         (OP.EXT4, struct.pack("<i", 0x7A11F00D), "ext4")):
        add(f"{M}/pickle_p2_{nm}_extension_registry.pkl", M, ["PICKLE-EXT-CODE"],
            f"{nm.upper()} opcode: callable taken from the copyreg extension registry, then REDUCE",
            p2(op + code + tup(bu(CMD)) + OP.REDUCE))

    add(f"{M}/pickle_two_streams_benign_then_payload.pkl", M, CE,
        "two pickles in one file: benign dict first, os.system payload second",
        pickle.dumps({"epoch": 3, "lr": 0.001, "arch": "mlp"}, protocol=2) + PAYLOAD_P2)
    trunc = proto(2) + call(glob("os", "system"), bu(CMD)) + binput(0) + OP.EMPTY_DICT \
        + binput(1) + OP.BINUNICODE + struct.pack("<I", 100) + b"wei"
    add(f"{M}/pickle_truncated_after_payload.pkl", M, CE,
        "stream truncated mid-opcode after a GLOBAL os.system + REDUCE", trunc)

    add(f"{M}/pickle_py2_builtin_eval.pkl", M, CE, "Python 2 name __builtin__.eval (fix_imports -> builtins)",
        p2(call(glob("__builtin__", "eval"), bu("1+1"))))
    add(f"{M}/pickle_py2_commands_getoutput.pkl", M, CE,
        "Python 2 name commands.getoutput (fix_imports -> subprocess.getoutput)",
        p2(call(glob("commands", "getoutput"), bu(CMD))))

    # --- stdlib gadgets -------------------------------------------------
    os_mod = call(glob("operator", "itemgetter"), bu("os")) + tup(glob("sys", "modules")) + OP.REDUCE
    gadgets = [
        ("runpy__run_code", "runpy._run_code(code, {})",
         call(glob("runpy", "_run_code"), bu(PY_SNIPPET), OP.EMPTY_DICT)),
        ("importlib_import_module", "importlib.import_module('os')",
         call(glob("importlib", "import_module"), bu("os"))),
        ("pkgutil_resolve_name", "pkgutil.resolve_name('os:system')(cmd)",
         call(glob("pkgutil", "resolve_name"), bu("os:system")) + tup(bu(CMD)) + OP.REDUCE),
        ("operator_attrgetter", "operator.attrgetter('system')(sys.modules['os'])(cmd)",
         call(glob("operator", "attrgetter"), bu("system")) + tup(os_mod) + OP.REDUCE
         + tup(bu(CMD)) + OP.REDUCE),
        ("operator_methodcaller", "operator.methodcaller('system', cmd)(sys.modules['os'])",
         call(glob("operator", "methodcaller"), bu("system"), bu(CMD)) + tup(os_mod) + OP.REDUCE),
        ("functools_partial", "functools.partial(print, 'mlsecops-test')()",
         call(glob("functools", "partial"), glob("builtins", "print"), bu("mlsecops-test"))
         + OP.EMPTY_TUPLE + OP.REDUCE),
        ("timeit_timeit", "timeit.timeit('1+1', 'pass', time.perf_counter, 1)",
         call(glob("timeit", "timeit"), bu("1+1"), bu("pass"), glob("time", "perf_counter"), binint(1))),
        ("cprofile_run", "cProfile.run(code)", call(glob("cProfile", "run"), bu(PY_SNIPPET))),
        ("profile_run", "profile.run(code)", call(glob("profile", "run"), bu(PY_SNIPPET))),
        ("pdb_run", "pdb.run(code)", call(glob("pdb", "run"), bu(PY_SNIPPET))),
        ("pty_spawn", "pty.spawn(['echo', 'mlsecops-test'])",
         call(glob("pty", "spawn"), lst(bu("echo"), bu("mlsecops-test")))),
        ("pip_main", "pip._internal.cli.main.main(['--version'])",
         call(glob("pip._internal.cli.main", "main"), lst(bu("--version")))),
        ("uuid_get_command_stdout", "uuid._get_command_stdout('echo', 'mlsecops-test')",
         call(glob("uuid", "_get_command_stdout"), bu("echo"), bu("mlsecops-test"))),
        ("asyncio_subprocess_create_subprocess_shell", "asyncio.subprocess.create_subprocess_shell(cmd)",
         call(glob("asyncio.subprocess", "create_subprocess_shell"), bu(CMD))),
        ("asyncio_create_subprocess_shell", "asyncio.create_subprocess_shell(cmd)",
         call(glob("asyncio", "create_subprocess_shell"), bu(CMD))),
        ("pickle_loads_nested", "pickle.loads(<nested os.system pickle>)",
         call(glob("pickle", "loads"), binbytes(PAYLOAD_P2))),
        ("_pickle_loads_nested", "_pickle.loads(<nested os.system pickle>)",
         call(glob("_pickle", "loads"), binbytes(PAYLOAD_P2))),
        ("marshal_loads", "marshal.loads(<code object bytes>)",
         call(glob("marshal", "loads"), binbytes(LAMBDA_MARSHAL))),
        ("types_functiontype", "types.FunctionType(marshal.loads(<code>), {})",
         call(glob("types", "FunctionType"), call(glob("marshal", "loads"), binbytes(LAMBDA_MARSHAL)),
              OP.EMPTY_DICT)),
        ("numpy_testing_runstring", "numpy.testing._private.utils.runstring(code, {})",
         call(glob("numpy.testing._private.utils", "runstring"), bu(PY_SNIPPET), OP.EMPTY_DICT)),
        ("builtins_getattr", "builtins.getattr(sys.modules['os'], 'system')(cmd)",
         call(glob("builtins", "getattr"), os_mod, bu("system")) + tup(bu(CMD)) + OP.REDUCE),
        ("builtins_exec", "builtins.exec(code)", call(glob("builtins", "exec"), bu(PY_SNIPPET))),
        ("builtins_compile", "builtins.compile(code, '<x>', 'exec')",
         call(glob("builtins", "compile"), bu(PY_SNIPPET), bu("<x>"), bu("exec"))),
        ("builtins_import", "builtins.__import__('os')", call(glob("builtins", "__import__"), bu("os"))),
        ("code_interactiveinterpreter", "code.InteractiveInterpreter()",
         glob("code", "InteractiveInterpreter") + OP.EMPTY_TUPLE + OP.REDUCE),
        ("ctypes_cdll", "ctypes.CDLL('libc.so.6')", call(glob("ctypes", "CDLL"), bu("libc.so.6"))),
        ("torch_load", "torch.load('mlsecops-test.pt')", call(glob("torch", "load"), bu("mlsecops-test.pt"))),
        ("numpy_load_allow_pickle", "numpy.load('x.npy', None, True)",
         call(glob("numpy", "load"), bu("x.npy"), OP.NONE, OP.NEWTRUE)),
        ("subprocess_run", "subprocess.run(['echo', 'mlsecops-test'])",
         call(glob("subprocess", "run"), lst(bu("echo"), bu("mlsecops-test")))),
        ("os_popen", "os.popen(cmd)", call(glob("os", "popen"), bu(CMD))),
        # submodules of dangerous packages
        ("distutils_spawn", "distutils.spawn.spawn(['echo', 'mlsecops-test'])",
         call(glob("distutils.spawn", "spawn"), lst(bu("echo"), bu("mlsecops-test")))),
        ("multiprocessing_util_spawnv_passfds",
         "multiprocessing.util.spawnv_passfds('/bin/echo', ['echo', 'mlsecops-test'], ())",
         call(glob("multiprocessing.util", "spawnv_passfds"), bu("/bin/echo"),
              lst(bu("echo"), bu("mlsecops-test")), OP.EMPTY_TUPLE)),
    ]
    for nm, tech, body in gadgets:
        add(f"{M}/pickle_gadget_{nm}.pkl", M, CE, f"stdlib gadget: {tech}", p2(body))

    # dotted attribute walks (protocol 4 resolves dotted names with getattr chains)
    add(f"{M}/pickle_p4_dotted_name_dunder_globals.pkl", M, CE,
        "STACK_GLOBAL collections / 'OrderedDict.__init__.__globals__' (dunder attribute walk)",
        p4(sglob("collections", "OrderedDict.__init__.__globals__")))
    add(f"{M}/pickle_p4_dotted_name_logging_os_system.pkl", M, CE,
        "STACK_GLOBAL logging / 'os.system' (walk through a module attribute to os)",
        p4(sglob("logging", "os.system") + sbu(CMD) + OP.MEMOIZE + OP.TUPLE1 + OP.REDUCE))
    add(f"{M}/pickle_p4_global_opcode_dotted_zipfile_os_system.pkl", M, CE,
        "protocol 4 stream using the text GLOBAL opcode with dotted name zipfile / os.system",
        proto(4) + call(glob("zipfile", "os.system"), bu(CMD)) + OP.STOP)

    FA = ["PICKLE-FILE-ACCESS"]
    add(f"{M}/pickle_file_builtins_open.pkl", M, FA, "builtins.open('/dev/null', 'rb')",
        p2(call(glob("builtins", "open"), bu("/dev/null"), bu("rb"))))
    add(f"{M}/pickle_file_io_open.pkl", M, FA, "io.open('/dev/null', 'rb')",
        p2(call(glob("io", "open"), bu("/dev/null"), bu("rb"))))
    add(f"{M}/pickle_file_shutil_rmtree.pkl", M, FA,
        "shutil.rmtree('/nonexistent/mlsecops-test', True)",
        p2(call(glob("shutil", "rmtree"), bu("/nonexistent/mlsecops-test"), OP.NEWTRUE)))
    NA = ["PICKLE-NETWORK-ACCESS"]
    add(f"{M}/pickle_net_socket_create_connection.pkl", M, NA,
        "socket.create_connection(('127.0.0.1', 9))",
        p2(call(glob("socket", "create_connection"), tup(bu("127.0.0.1"), binint(9)))))
    add(f"{M}/pickle_net_urllib_urlopen.pkl", M, NA, "urllib.request.urlopen('http://127.0.0.1:9/')",
        p2(call(glob("urllib.request", "urlopen"), bu("http://127.0.0.1:9/mlsecops-test"))))

    add(f"{M}/pickle_build_on_imported_class.pkl", M, ["PICKLE-GLOBAL-MUTATION"],
        "BUILD applied directly to the imported class collections.OrderedDict (class patching)",
        p2(glob("collections", "OrderedDict") + binput(0) + OP.EMPTY_DICT + binput(1)
           + bu("__repr__") + glob("builtins", "print") + OP.SETITEM + OP.BUILD))
    add(f"{M}/pickle_indirect_call.pkl", M, ["PICKLE-INDIRECT-CALL"],
        "REDUCE whose callable is a call result: operator.itemgetter(0)(['x'])",
        p2(call(glob("operator", "itemgetter"), binint(0)) + tup(lst(bu("x"))) + OP.REDUCE))


# --------------------------------------------------------------------------
# MALICIOUS CONTAINERS
# --------------------------------------------------------------------------

def gen_malicious_containers() -> None:
    M = "malicious"
    CE = ["PICKLE-CODE-EXEC"]
    data_pkl, storages = torch_payload_pickle()
    torch_mal = torch_save_zip(data_pkl, storages)

    add(f"{M}/torch_zip_data_pkl_os_system.pt", M, CE,
        "torch.save zip layout; archive/data.pkl state_dict with an os.system REDUCE value", torch_mal)
    add(f"{M}/torchscript_constants_pkl_os_system.pt", M, CE,
        "TorchScript-style zip whose constants.pkl calls os.system", torchscript_zip(PAYLOAD_P2))
    add(f"{M}/torch_zip_nonstandard_pickle_name.pt", M, CE,
        "torch zip whose only pickle member is archive/data.pickle",
        torch_save_zip(data_pkl, storages, pickle_name="data.pickle"))

    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                             "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    legacy_tar = tar_bytes([("sys_info", sys_info),
                            ("storages", pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2)),
                            ("tensors", pickle.dumps(0, protocol=2)),
                            ("pickle", PAYLOAD_P2)])
    add(f"{M}/torch_legacy_tar_pickle_os_system.pt", M, CE,
        "legacy torch tar format (sys_info/storages/tensors/pickle), malicious 'pickle' member", legacy_tar)

    st = TorchStorages(legacy=True, key_base=94_000_000_000_000)
    sd = torch_state_dict(st, {"_mlsecops_hook": os_system_marker()})
    add(f"{M}/torch_legacy_sequential_os_system.pt", M, CE,
        "legacy sequential torch format: magic, protocol, sys_info, malicious data pickle, keys, raw storages",
        legacy_sequential(sd, st))

    compressed = [("gzip", "pkl.gz", gz(PAYLOAD_P2)),
                  ("bz2", "pkl.bz2", bz2.compress(PAYLOAD_P2, 9)),
                  ("xz", "pkl.xz", lzma.compress(PAYLOAD_P2, format=lzma.FORMAT_XZ, preset=6)),
                  ("zlib", "pkl.zlib", zlib.compress(PAYLOAD_P2, 9))]
    for nm, ext, data in compressed:
        add(f"{M}/pickle_{nm}_compressed_os_system.{ext}", M, CE, f"{nm}-compressed os.system pickle", data)

    jl = joblib_payload()
    add(f"{M}/joblib_payload_after_array.joblib", M, CE,
        "joblib.dump layout (NumpyArrayWrapper + inline array bytes) with os.system after the array data", jl)
    add(f"{M}/joblib_zlib_compress3_payload.joblib", M, CE,
        "joblib compress=3 (zlib stream) of the malicious joblib pickle", _zlib_stream(jl, 3))
    add(f"{M}/joblib_gzip_payload.joblib.gz", M, CE,
        "joblib compress=('gzip', 3) of the malicious joblib pickle", gz(jl, 3))

    npy_mal = npy_header("|O", (2,)) + object_array_payload_pickle()
    add(f"{M}/numpy_object_array_os_system.npy", M, CE,
        ".npy object array whose pickle payload calls os.system", npy_mal)
    add(f"{M}/numpy_npz_object_member_os_system.npz", M, CE,
        ".npz (np.savez layout, zip64 extras) with a malicious object-array member",
        pyzip([("weights.npy", npy_numeric(rng_arr(5, 4, 4))), ("meta.npy", npy_mal)], force_zip64=True))

    add(f"{M}/zip_in_zip_torch_payload.zip", M, CE,
        "nested archive: zip containing checkpoints/model.pt (malicious torch zip)",
        pyzip([("README.txt", b"checkpoint bundle\n"), ("checkpoints/model.pt", torch_mal)]))
    add(f"{M}/targz_with_torch_payload.tar.gz", M, CE,
        "nested archive: tar.gz containing model/pytorch_model.bin (malicious torch zip)",
        gz(tar_bytes([("model/config.json", b'{"model_type": "mlp"}\n'),
                      ("model/pytorch_model.bin", torch_mal)])))

    benign_pkl, bst = torch_benign_state_dict_pickle()
    # local header says archive/data.pkl (benign); central directory names it too
    # but points at a second local header holding the payload
    z = ZipBuilder()
    z.local("archive/data.pkl", benign_pkl)
    i2 = z.local("archive/data.pkl.bak", PAYLOAD_P2)
    z.central_entry(i2, name="archive/data.pkl")
    add(f"{M}/zip_header_mismatch_name.pt", M, ["ARCHIVE-HEADER-MISMATCH", "PICKLE-CODE-EXEC"],
        "central directory entry archive/data.pkl points at a local header named "
        "archive/data.pkl.bak holding the payload (a benign archive/data.pkl precedes it)",
        z.finish())

    full = benign_pkl + PAYLOAD_P2
    z = ZipBuilder()
    info = z.local("archive/data.pkl", full, crc=zlib.crc32(benign_pkl), csize=len(benign_pkl),
                   usize=len(benign_pkl))
    z.central_entry(info, crc=zlib.crc32(full), csize=len(full), usize=len(full))
    add(f"{M}/zip_header_mismatch_size.pt", M, ["ARCHIVE-HEADER-MISMATCH", "PICKLE-CODE-EXEC"],
        "local header sizes cover only a benign pickle; central directory sizes also cover an "
        "appended os.system pickle", z.finish())

    z = ZipBuilder()
    z.add("archive/data.pkl", benign_pkl)
    z.add("archive/data.pkl", PAYLOAD_P2)
    add(f"{M}/zip_duplicate_member.pt", M, ["ARCHIVE-DUPLICATE-MEMBER", "PICKLE-CODE-EXEC"],
        "archive/data.pkl twice: benign first, malicious second (readers keep the last)", z.finish())

    trav = [("dotdot", "../../evil.pkl"), ("absolute", "/abs/evil.pkl"),
            ("backslash", "archive\\..\\..\\evil.pkl"), ("drive_letter", "C:/Windows/Temp/evil.pkl")]
    for nm, member in trav:
        add(f"{M}/zip_path_traversal_{nm}.zip", M, ["ARCHIVE-PATH-TRAVERSAL", "PICKLE-CODE-EXEC"],
            f"zip member named {member!r} holding an os.system pickle",
            simple_zip([("model/config.json", b"{}\n"), (member, PAYLOAD_P2)]))
    add(f"{M}/tar_path_traversal_dotdot.tar", M, ["ARCHIVE-PATH-TRAVERSAL", "PICKLE-CODE-EXEC"],
        "tar member named '../../evil.pkl' holding an os.system pickle",
        tar_bytes([("model/config.json", b"{}\n"), ("../../evil.pkl", PAYLOAD_P2)],
                  fmt=tarfile.USTAR_FORMAT))
    add(f"{M}/tar_symlink_member.tar", M, ["ARCHIVE-LINK-MEMBER"],
        "tar symlink member model/weights.bin -> /etc/passwd",
        tar_bytes([("model/config.json", b"{}\n")], links=[("model/weights.bin", "/etc/passwd")]))
    z = ZipBuilder()
    z.add("model/config.json", b"{}\n")
    z.add("model/weights.bin", b"/etc/passwd", external_attr=(0o120777 << 16))
    add(f"{M}/zip_symlink_member.zip", M, ["ARCHIVE-LINK-MEMBER"],
        "zip member with unix symlink mode (0o120777) pointing at /etc/passwd", z.finish())

    # zip bomb: 200 MiB of zeros, streamed through deflate, never materialised
    add(f"{M}/zip_bomb_deflate_200mib.zip", M, ["ARCHIVE-BOMB"],
        "single deflated member expanding 200 MiB of zeros (~1000:1)", zip_bomb(200 << 20))
    BIG_OK.add(f"{M}/zip_bomb_deflate_200mib.zip")

    # overlapping members: member 1's stored data contains member 2's local header + data
    inner_name, inner = b"model/b.bin", b"\0" * 256
    lh2 = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, DOS_TIME, DOS_DATE, zlib.crc32(inner),
                      len(inner), len(inner), len(inner_name), 0) + inner_name + inner
    z = ZipBuilder()
    outer = b"\0" * 64 + lh2 + b"\0" * 64
    i1 = z.local("model/a.bin", outer)
    z.central_entry(i1)
    z.central_entry({**i1, "name": inner_name, "crc": zlib.crc32(inner), "csize": len(inner),
                     "usize": len(inner)}, offset=i1["offset"] + 30 + len(b"model/a.bin") + 64)
    add(f"{M}/zip_overlapping_members.zip", M, ["ARCHIVE-OVERLAPPING-MEMBERS"],
        "second member's local header and data lie inside the first member's data", z.finish())

    add_in_dir(f"{M}/ext_confusion_pickle/model.safetensors", M, CE,
               "os.system pickle saved as model.safetensors (detect by content, not extension)", PAYLOAD_P2)
    add_in_dir(f"{M}/ext_confusion_torch_zip/weights.safetensors", M, CE,
               "malicious torch zip saved as weights.safetensors", torch_mal)
    add_in_dir(f"{M}/ext_confusion_pickle_txt/notes.txt", M, CE,
               "os.system pickle saved as notes.txt", PAYLOAD_P2)


def legacy_sequential(obj, st: TorchStorages) -> bytes:
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    ver = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                             "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    body = mdumps(obj, 2)
    keys = sorted(k for k, _ in st.items)
    out = magic + ver + sys_info + body + pickle.dumps(keys, protocol=2)
    by_key = dict(st.items)
    for k in keys:
        a = by_key[k]
        out += struct.pack("<q", a.size) + a.tobytes()
    return out


def _zlib_stream(data: bytes, level: int) -> bytes:
    c = zlib.compressobj(level)
    return c.compress(data) + c.flush()


def joblib_payload() -> bytes:
    """Real joblib.dump output for {'w': array}, with an os.system SETITEM spliced in after
    the inline array bytes (outside the pickle FRAME, exactly where joblib resumes)."""
    import joblib
    buf = io.BytesIO()
    joblib.dump({"coef": np.arange(8, dtype=np.float32)}, buf)
    real = buf.getvalue()
    assert real.endswith(b"s."), real[-4:]
    extra = sbu("init") + sglob("os", "system") + sbu(CMD) + OP.TUPLE1 + OP.REDUCE + OP.SETITEM
    return real[:-1] + extra + OP.STOP


def zip_bomb(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    crc, parts = 0, []
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
        parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    raw = b"".join(parts)
    z = ZipBuilder()
    info = z.local("model/weights.bin", b"", method=8, raw=raw, crc=crc, usize=size)
    z.central_entry(info)
    return z.finish()


def torch_benign_state_dict_pickle():
    st = TorchStorages()
    return mdumps(torch_state_dict(st), 2), st.items


# --------------------------------------------------------------------------
# MALICIOUS: other formats
# --------------------------------------------------------------------------

LAMBDA_B64 = ("4wEAAAAAAAAAAAAAAAMAAAADAAAA8yQAAACXAHQBAAAAAAAAAAAAAGQBpgEAAKsBAAAAAAAAAABw\n"
              "AXwAUwApAk76DW1sc2Vjb3BzLXRlc3QpAdoFcHJpbnQpAdoBeHMBAAAAIPoIPHN0cmluZz76CDxs\n"
              "YW1iZGE+cgYAAAADAAAAcxMAAACAAI1FkC/RDCLUDCLQDCegYYAA8wAAAAA=\n")
# marshal.dumps((lambda x: print('mlsecops-test') or x).__code__) under CPython 3.11
LAMBDA_MARSHAL = base64.b64decode(LAMBDA_B64)


def k3_dtype():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def k3_dense(name, units, in_dim, activation="relu"):
    return {"module": "keras.layers", "class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": k3_dtype(), "units": units,
        "activation": activation, "use_bias": True,
        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                               "config": {"seed": None}, "registered_name": None},
        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                             "config": {}, "registered_name": None},
        "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None},
        "registered_name": None, "build_config": {"input_shape": [None, in_dim]}}


def k3_input(dim):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None, dim], "dtype": "float32", "sparse": False,
                       "name": "input_layer"}, "registered_name": None}


def k3_sequential(layers):
    return {"module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential", "trainable": True, "dtype": k3_dtype(), "layers": layers,
        "build_input_shape": [None, 4]}, "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
        "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                         "config": {"name": "adam", "learning_rate": 0.001},
                                         "registered_name": None},
                           "loss": "mse", "metrics": None, "loss_weights": None,
                           "weighted_metrics": None, "run_eagerly": False,
                           "steps_per_execution": 1, "jit_compile": False}}


def k3_weights_h5(layer_shapes: dict[str, list[tuple]]) -> bytes:
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w", libver="earliest") as f:
        layers = f.create_group("layers")
        for i, (lname, shapes) in enumerate(layer_shapes.items()):
            g = layers.create_group(lname).create_group("vars")
            for j, shp in enumerate(shapes):
                g.create_dataset(str(j), data=rng_arr(100 + 10 * i + j, *shp), track_times=False)
        f.create_group("optimizer").create_group("vars")
        f.create_group("vars")
    return buf.getvalue()


def keras_v3(config: dict, layer_shapes: dict) -> bytes:
    meta = {"keras_version": "3.6.0", "date_saved": "2024-11-05@10:31:15"}
    return pyzip([("metadata.json", json.dumps(meta).encode()),
                  ("config.json", json.dumps(config).encode()),
                  ("model.weights.h5", k3_weights_h5(layer_shapes))])


def legacy_h5(model_config: dict, layers: dict[str, list[tuple[str, tuple]]]) -> bytes:
    """tf.keras 2.x model.save('x.h5') layout."""
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w", libver="earliest") as f:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["backend"] = "tensorflow"
        mw.attrs["keras_version"] = "2.15.0"
        mw.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for i, (lname, weights) in enumerate(layers.items()):
            g = mw.create_group(lname)
            g.attrs["weight_names"] = np.array([f"{lname}/{w}".encode() for w, _ in weights]) \
                if weights else np.array([], dtype="S1")
            if weights:
                sub = g.create_group(lname)
                for j, (w, shp) in enumerate(weights):
                    sub.create_dataset(w, data=rng_arr(200 + 10 * i + j, *shp), track_times=False)
    return buf.getvalue()


def k2_dense(name, units, activation="relu"):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation,
        "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None}}


def k2_sequential(layers):
    inp = {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32",
                                                  "sparse": False, "ragged": False, "name": "input_1"}}
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [inp] + layers}}


def gguf_bytes(chat_template: str | None, name: str) -> bytes:
    import gguf
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "m.gguf")
        w = gguf.GGUFWriter(p, "llama")
        w.add_name(name)
        w.add_context_length(64)
        w.add_embedding_length(8)
        w.add_block_count(1)
        w.add_feed_forward_length(16)
        w.add_head_count(2)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_file_type(0)
        w.add_tokenizer_model("llama")
        toks = ["<unk>", "<s>", "</s>"] + [chr(c) for c in range(ord("a"), ord("a") + 13)]
        w.add_token_list(toks)
        w.add_token_scores([0.0] * len(toks))
        w.add_token_types([2, 3, 3] + [1] * 13)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        if chat_template is not None:
            w.add_chat_template(chat_template)
        w.add_tensor("token_embd.weight", rng_arr(300, len(toks), 8))
        w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
        w.add_tensor("output.weight", rng_arr(301, len(toks), 8))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return Path(p).read_bytes()


BENIGN_TEMPLATE = (
    "{%- set ns = namespace(system_prompt='') -%}\n"
    "{%- for message in messages -%}\n"
    "{%- if message['role'] == 'system' -%}{%- set ns.system_prompt = message['content'] -%}{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{{- bos_token -}}\n"
    "{%- for message in messages if message['role'] != 'system' -%}\n"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}\n"
    "{%- endif -%}\n"
    "{%- if message['role'] == 'user' -%}\n"
    "{{- '[INST] ' + (ns.system_prompt + '\\n\\n' if loop.first and ns.system_prompt else '') "
    "+ message['content'] | trim + ' [/INST]' -}}\n"
    "{%- elif message['role'] == 'assistant' -%}\n"
    "{{- ' ' + message['content'] | trim + eos_token -}}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n"
)
EVIL_TEMPLATE_GLOBALS = (
    "{{ cycler.__init__.__globals__.os.popen('echo mlsecops-test').read() }}" + BENIGN_TEMPLATE)
EVIL_TEMPLATE_ATTR = (
    r"{%- set c = ()|attr('\x5f\x5fclass\x5f\x5f')|attr('\x5f\x5fbase\x5f\x5f')"
    r"|attr('\x5f\x5fsubclasses\x5f\x5f')() -%}"
    r"{%- for k in c if k|attr('\x5f\x5fname\x5f\x5f') == 'Popen' -%}"
    r"{{ k(['echo', 'mlsecops-test']) }}{%- endfor -%}" + BENIGN_TEMPLATE)
EVIL_TEMPLATE_SUBCLASSES = (
    "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
    "{{ c(['echo', 'mlsecops-test']) }}{% endif %}{% endfor %}" + BENIGN_TEMPLATE)


def hf_config() -> dict:
    return {"_name_or_path": "mlsecops/tiny-bert", "architectures": ["BertModel"],
            "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "hidden_size": 8, "initializer_range": 0.02, "intermediate_size": 16,
            "layer_norm_eps": 1e-12, "max_position_embeddings": 64, "model_type": "bert",
            "num_attention_heads": 2, "num_hidden_layers": 1, "pad_token_id": 0,
            "position_embedding_type": "absolute", "torch_dtype": "float32",
            "transformers_version": "4.46.0", "type_vocab_size": 2, "use_cache": True,
            "vocab_size": 16}


def tokenizer_config(template: str) -> dict:
    return {"add_bos_token": True, "add_eos_token": False,
            "added_tokens_decoder": {
                "0": {"content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True},
                "1": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True},
                "2": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True}},
            "bos_token": "<s>", "chat_template": template, "clean_up_tokenization_spaces": False,
            "eos_token": "</s>", "legacy": False, "model_max_length": 64, "pad_token": None,
            "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>",
            "use_default_system_prompt": False}


def _st_tensors() -> dict:
    return {"embeddings.word_embeddings.weight": rng_arr(400, 16, 8), "pooler.dense.bias": rng_arr(401, 8)}


def small_safetensors(metadata=None) -> bytes:
    """safetensors.numpy.save. The library keeps __metadata__ in a hash map whose order
    changes per process, so at most one metadata key here (deterministic)."""
    from safetensors.numpy import save
    assert metadata is None or len(metadata) <= 1
    return save(_st_tensors(), metadata=metadata)


def safetensors_by_hand(metadata: dict) -> bytes:
    """Same layout as the library (compact JSON, __metadata__ first, space padding to 8),
    with sorted metadata keys so several keys stay deterministic."""
    header: dict = {"__metadata__": dict(sorted(metadata.items()))}
    data, off = b"", 0
    for name, arr in sorted(_st_tensors().items()):
        b = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        data, off = data + b, off + len(b)
    return st_raw(json.dumps(header, separators=(",", ":")).encode(), data)


def onnx_tensor_external(name, dims, location, offset=0, length=None):
    from onnx import TensorProto
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    n = int(np.prod(dims)) * 4
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(n if length is None else length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def onnx_model(nodes, inits, inputs, outputs, opsets=(("", 17),)):
    from onnx import helper
    g = helper.make_graph(nodes, "mlsecops_graph", inputs, outputs, initializer=inits)
    m = helper.make_model(g, producer_name="mlsecops-corpus", producer_version="1.0",
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 8
    return m.SerializeToString()


def onnx_mlp(external: str | None = None) -> tuple[bytes, bytes]:
    from onnx import TensorProto, helper, numpy_helper
    w1, b1, w2, b2 = rng_arr(500, 4, 8), rng_arr(501, 8), rng_arr(502, 8, 2), rng_arr(503, 2)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"], name="matmul1"),
             helper.make_node("Add", ["h0", "b1"], ["h1"], name="add1"),
             helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
             helper.make_node("MatMul", ["h2", "w2"], ["h3"], name="matmul2"),
             helper.make_node("Add", ["h3", "b2"], ["y"], name="add2")]
    blob = b""
    inits = []
    for name, arr in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)):
        if external:
            inits.append(onnx_tensor_external(name, arr.shape, external, len(blob)))
            blob += arr.tobytes()
        else:
            inits.append(numpy_helper.from_array(arr, name))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])
    return onnx_model(nodes, inits, [x], [y]), blob


def gen_malicious_other() -> None:
    M = "malicious"
    # ---- Keras v3 ---------------------------------------------------------
    lam = {"module": "keras.layers", "class_name": "Lambda", "config": {
        "name": "lambda", "trainable": True, "dtype": k3_dtype(),
        "function": {"class_name": "__lambda__", "config": {"code": LAMBDA_B64, "defaults": None,
                                                            "closure": None}},
        "arguments": {}}, "registered_name": None, "build_config": {"input_shape": [None, 4]}}
    cfg = k3_sequential([k3_input(4), lam, k3_dense("dense", 2, 4)])
    add(f"{M}/keras_v3_lambda_layer.keras", M, ["KERAS-LAMBDA"],
        "Keras 3 .keras: Lambda layer whose function is a __lambda__ with base64 marshalled bytecode",
        keras_v3(cfg, {"dense": [(4, 2), (2,)]}))
    dense = k3_dense("dense", 2, 4)
    dense["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                     "registered_name": "os.system"}
    add(f"{M}/keras_v3_unsafe_module_os_system.keras", M, ["KERAS-UNSAFE-MODULE"],
        "Keras 3 .keras: Dense activation deserialised from module 'os' function 'system'",
        keras_v3(k3_sequential([k3_input(4), dense]), {"dense": [(4, 2), (2,)]}))
    popen = {"module": "subprocess", "class_name": "Popen",
             "config": {"args": ["echo", "mlsecops-test"]}, "registered_name": "Popen"}
    add(f"{M}/keras_v3_unsafe_module_subprocess.keras", M, ["KERAS-UNSAFE-MODULE"],
        "Keras 3 .keras: layer object from module 'subprocess' class 'Popen'",
        keras_v3(k3_sequential([k3_input(4), popen, k3_dense("dense", 2, 4)]), {"dense": [(4, 2), (2,)]}))
    # ---- legacy Keras h5 -----------------------------------------------------
    lam2 = {"class_name": "Lambda", "config": {
        "name": "lambda", "trainable": True, "dtype": "float32",
        "function": [LAMBDA_B64, None, None], "function_type": "lambda", "module": "__main__",
        "output_shape": None, "output_shape_type": "raw", "output_shape_module": None, "arguments": {}}}
    mc = k2_sequential([lam2, k2_dense("dense", 2)])
    add(f"{M}/keras_legacy_h5_lambda.h5", M, ["KERAS-LAMBDA"],
        "legacy Keras HDF5: model_config Lambda layer with function [base64 marshal, null, null]",
        legacy_h5(mc, {"input_1": [], "lambda": [], "dense": [("kernel:0", (4, 2)), ("bias:0", (2,))]}))

    # ---- TensorFlow SavedModel ------------------------------------------------
    def sm_dir(path, rules, tech, nodes, functions=()):
        add_dir(f"{M}/{path}", M, rules, tech, {"saved_model.pb": saved_model(nodes, functions)})

    sm_dir("tf_savedmodel_readfile", ["TF-FILE-ACCESS-OP"], "SavedModel graph ReadFile('/etc/passwd')",
           [const_str("filename", "/etc/passwd"), node("ReadFile", "ReadFile", ["filename"]),
            node("Identity", "Identity", ["ReadFile"], {"T": av_type(DT_STRING)})])
    sm_dir("tf_savedmodel_writefile", ["TF-FILE-ACCESS-OP"],
           "SavedModel graph WriteFile('/tmp/mlsecops-test.txt', ...)",
           [const_str("filename", "/tmp/mlsecops-test.txt"), const_str("contents", "mlsecops-test"),
            node("WriteFile", "WriteFile", ["filename", "contents"])])
    sm_dir("tf_savedmodel_matchingfiles", ["TF-FILE-ACCESS-OP"],
           "SavedModel graph MatchingFiles('/home/*/.ssh/*')",
           [const_str("pattern", "/home/*/.ssh/*"), node("MatchingFiles", "MatchingFiles", ["pattern"])])
    pyf_attrs = {"token": av_s("pyfunc_0"), "Tin": av_list_type([DT_FLOAT]), "Tout": av_list_type([DT_FLOAT])}
    sm_dir("tf_savedmodel_pyfunc", ["TF-CODE-EXEC-OP"], "SavedModel graph node PyFunc",
           [placeholder("x"), node("PyFunc", "PyFunc", ["x"], pyf_attrs),
            node("Identity", "Identity", ["PyFunc"], {"T": av_type(DT_FLOAT)})])
    fn = function_def("__inference_call_123", [
        node("EagerPyFunc", "EagerPyFunc", ["x"], {"token": av_s("pyfunc_1"), "is_async": av_b(False),
                                                   "Tin": av_list_type([DT_FLOAT]),
                                                   "Tout": av_list_type([DT_FLOAT])}),
        node("Identity", "Identity", ["EagerPyFunc:output:0"], {"T": av_type(DT_FLOAT)})],
        [("x", DT_FLOAT)], [("identity", DT_FLOAT)], {"identity": "Identity:output:0"})
    sm_dir("tf_savedmodel_eagerpyfunc_in_library", ["TF-CODE-EXEC-OP"],
           "EagerPyFunc inside a FunctionDefLibrary function called via StatefulPartitionedCall",
           [placeholder("x"), node("StatefulPartitionedCall", "StatefulPartitionedCall", ["x"], {
               "Tin": av_list_type([DT_FLOAT]), "Tout": av_list_type([DT_FLOAT]),
               "f": av_func("__inference_call_123"), "config": av_s(""), "config_proto": av_s(""),
               "executor_type": av_s("")})], [fn])
    save_common = [const_str("SaveV2/tensor_names", ["w/.ATTRIBUTES/VARIABLE_VALUE"], (1,)),
                   const_str("SaveV2/shape_and_slices", [""], (1,)),
                   node("w", "VarHandleOp", (), {"dtype": av_type(DT_FLOAT), "shape": av_shape((4, 2)),
                                                 "shared_name": av_s("w"), "container": av_s("")}),
                   node("w/Read", "ReadVariableOp", ["w"], {"dtype": av_type(DT_FLOAT)})]
    sm_dir("tf_savedmodel_savev2_absolute_path", ["TF-SAVE-RESTORE-PATH"],
           "SaveV2 whose prefix is a Const absolute path '/tmp/mlsecops-test/ckpt'",
           save_common + [const_str("Const", "/tmp/mlsecops-test/ckpt"),
                          node("SaveV2", "SaveV2", ["Const", "SaveV2/tensor_names",
                                                    "SaveV2/shape_and_slices", "w/Read"],
                               {"dtypes": av_list_type([DT_FLOAT])})])
    sm_dir("tf_savedmodel_restorev2_dotdot_path", ["TF-SAVE-RESTORE-PATH"],
           "RestoreV2 whose prefix is a Const '../../../mlsecops-test/ckpt'",
           save_common + [const_str("Const", "../../../mlsecops-test/ckpt"),
                          node("RestoreV2", "RestoreV2", ["Const", "SaveV2/tensor_names",
                                                          "SaveV2/shape_and_slices"],
                               {"dtypes": av_list_type([DT_FLOAT])})])

    # ---- ONNX -------------------------------------------------------------
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    for nm, loc in (("absolute_etc_passwd", "/etc/passwd"), ("dotdot_secret", "../../secret.bin")):
        m = onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")],
                       [onnx_tensor_external("w", (4, 4), loc)], [x], [y])
        add(f"{M}/onnx_external_data_{nm}.onnx", M, ["ONNX-EXTERNAL-DATA-TRAVERSAL"],
            f"ONNX initializer with external_data location {loc!r}", m)

    # ---- GGUF chat templates ----------------------------------------------
    add(f"{M}/gguf_chat_template_globals_popen.gguf", M, ["CHAT-TEMPLATE-INJECTION"],
        "GGUF tokenizer.chat_template: cycler.__init__.__globals__.os.popen(...)",
        gguf_bytes(EVIL_TEMPLATE_GLOBALS, "mlsecops-evil-globals"))
    add(f"{M}/gguf_chat_template_attr_hex_escape.gguf", M, ["CHAT-TEMPLATE-INJECTION"],
        "GGUF tokenizer.chat_template: |attr('\\x5f\\x5fclass\\x5f\\x5f') chain to __subclasses__",
        gguf_bytes(EVIL_TEMPLATE_ATTR, "mlsecops-evil-attr"))

    # ---- HF repo folders ----------------------------------------------------
    add_dir(f"{M}/hf_repo_chat_template_injection", M, ["CHAT-TEMPLATE-INJECTION"],
            "HF repo folder: tokenizer_config.json chat_template walks __subclasses__ to Popen", {
                "config.json": jdump(hf_config()),
                "tokenizer_config.json": jdump(tokenizer_config(EVIL_TEMPLATE_SUBCLASSES)),
                "generation_config.json": jdump({"_from_model_config": True, "bos_token_id": 1,
                                                 "eos_token_id": 2, "transformers_version": "4.46.0"}),
                "model.safetensors": small_safetensors({"format": "pt"})})
    cfg = hf_config()
    cfg.update({"s3_export": {"bucket": "mlsecops-test", "aws_access_key_id": AWS_KEY_ID,
                              "aws_secret_access_key": AWS_SECRET}})
    add_dir(f"{M}/hf_repo_secret_aws", M, ["EMBEDDED-SECRET"],
            "config.json with an AWS access key id (AKIA...) and a 40-char aws_secret_access_key",
            {"config.json": jdump(cfg)})
    cfg = hf_config()
    cfg["hub_push"] = {"repo": "mlsecops/test", "github_token": GH_TOKEN}
    add_dir(f"{M}/hf_repo_secret_github", M, ["EMBEDDED-SECRET"],
            "config.json with a GitHub personal access token (ghp_ + 36)", {"config.json": jdump(cfg)})
    cfg = hf_config()
    cfg["hub_token"] = HF_TOKEN
    add_dir(f"{M}/hf_repo_secret_hf_token", M, ["EMBEDDED-SECRET"],
            "config.json with a Hugging Face token (hf_ + 34 letters)", {"config.json": jdump(cfg)})
    add(f"{M}/safetensors_metadata_secret.safetensors", M, ["EMBEDDED-SECRET"],
        "safetensors __metadata__ holding a Hugging Face token and an AWS key id",
        safetensors_by_hand({"format": "pt", "uploader": "mlsecops", "hf_token": HF_TOKEN,
                             "aws_access_key_id": AWS_KEY_ID}))


# --------------------------------------------------------------------------
# SUSPICIOUS (MEDIUM findings expected)
# --------------------------------------------------------------------------

def gen_suspicious() -> None:
    S = "suspicious"
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    m = onnx_model([helper.make_node("MlsecopsCustomRelu", ["x"], ["y"], name="custom",
                                     domain="evil.custom")], [], [x], [y],
                   opsets=(("", 17), ("evil.custom", 1)))
    add(f"{S}/onnx_custom_domain.onnx", S, ["ONNX-CUSTOM-DOMAIN"],
        "ONNX node from custom domain 'evil.custom' (+ opset import)", m)

    model = Reduce(G("__main__", "MyModel"), (), state={"hidden": 8, "layers": [4, 8, 2]}, newobj=True)
    add(f"{S}/pickle_unknown_global_main_mymodel.pkl", S, ["PICKLE-UNKNOWN-GLOBAL"],
        "pickle of __main__.MyModel (NEWOBJ + BUILD): code needed at load time", mdumps(model, 2))

    custom = {"module": "my_project.layers", "class_name": "ScaledDense",
              "config": {"name": "scaled_dense", "units": 2, "scale": 0.5},
              "registered_name": "MyProject>ScaledDense", "build_config": {"input_shape": [None, 4]}}
    add(f"{S}/keras_v3_custom_object.keras", S, ["KERAS-CUSTOM-OBJECT"],
        "Keras 3 .keras with a layer from module my_project.layers",
        keras_v3(k3_sequential([k3_input(4), custom]), {"scaled_dense": [(4, 2), (2,)]}))

    z = ZipBuilder()
    z.add("model/config.json", b"{}\n")
    junk = hashlib.sha256(b"mlsecops-encrypted").digest() * 4
    info = z.local("model/weights.bin", junk, flags=0x1, crc=0, usize=len(junk) - 12)
    z.central_entry(info)
    add(f"{S}/zip_encrypted_member.zip", S, ["ARCHIVE-ENCRYPTED-MEMBER"],
        "zip member with the encryption flag (bit 0) set", z.finish())

    z = ZipBuilder()
    z.add("model/config.json", b"{}\n")
    info = z.local("model/weights.bin", b"", raw=junk, method=98, crc=0, usize=4096, version=63)
    z.central_entry(info)
    add(f"{S}/zip_unsupported_method_ppmd.zip", S, ["ARCHIVE-UNSUPPORTED-METHOD"],
        "zip member compressed with method 98 (PPMd)", z.finish())

    stub = b"#!/bin/sh\necho mlsecops-test\nexit 0\n"
    stub += b"#" * (256 - len(stub))
    add(f"{S}/zip_prepended_data.zip", S, ["ARCHIVE-PREPENDED-DATA"],
        "shell-script stub before the first local header (self-extractor / polyglot)",
        simple_zip([("model/config.json", b"{}\n"), ("model/notes.txt", b"prepended stub\n")], prefix=stub))


# --------------------------------------------------------------------------
# BENIGN
# --------------------------------------------------------------------------

def gen_benign() -> None:
    B = "benign"
    pkl, items = torch_benign_state_dict_pickle()
    add(f"{B}/torch_state_dict.pt", B, [],
        "torch.save(state_dict) zip: OrderedDict + _rebuild_tensor_v2 + BINPERSID storages, protocol 2",
        torch_save_zip(pkl, items))

    st = TorchStorages()

    def module(cls_mod, cls_name, params=None, modules=None, **attrs):
        state = {"training": True, "_parameters": OD(params or {}), "_buffers": OD(),
                 "_non_persistent_buffers_set": set(), "_backward_pre_hooks": OD(),
                 "_backward_hooks": OD(), "_is_full_backward_hook": None, "_forward_hooks": OD(),
                 "_forward_hooks_with_kwargs": OD(), "_forward_hooks_always_called": OD(),
                 "_forward_pre_hooks": OD(), "_forward_pre_hooks_with_kwargs": OD(),
                 "_state_dict_hooks": OD(), "_state_dict_pre_hooks": OD(),
                 "_load_state_dict_pre_hooks": OD(), "_load_state_dict_post_hooks": OD(),
                 "_modules": OD(modules or {})}
        state.update(attrs)
        return Reduce(G(cls_mod, cls_name), (), state=state, newobj=True)

    lin1 = module("torch.nn.modules.linear", "Linear",
                  {"weight": st.parameter(rng_arr(11, 8, 4)), "bias": st.parameter(rng_arr(12, 8))},
                  in_features=4, out_features=8)
    relu = module("torch.nn.modules.activation", "ReLU", inplace=False)
    lin2 = module("torch.nn.modules.linear", "Linear",
                  {"weight": st.parameter(rng_arr(13, 2, 8)), "bias": st.parameter(rng_arr(14, 2))},
                  in_features=8, out_features=2)
    seq = module("torch.nn.modules.container", "Sequential", modules={"0": lin1, "1": relu, "2": lin2})
    add(f"{B}/torch_full_model.pt", B, [],
        "torch.save(model) zip: Sequential/Linear/ReLU via NEWOBJ+BUILD, _rebuild_parameter, set()",
        torch_save_zip(mdumps(seq, 2), st.items, archive="torch_full_model"))

    st = TorchStorages(legacy=True, key_base=94_100_000_000_000)
    add(f"{B}/torch_legacy_sequential.pt", B, [],
        "legacy (non-zip) torch.save: magic/protocol/sys_info pickles, state_dict, keys, raw storages",
        legacy_sequential(torch_state_dict(st), st))
    add(f"{B}/torchscript_model.pt", B, [], "TorchScript-style zip (code/, constants.pkl, __torch__ class)",
        torchscript_zip(pickle.dumps((), protocol=2)))

    # scikit-learn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    import joblib
    rs = np.random.RandomState(0)
    X = rs.standard_normal((60, 4))
    yv = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    models = {
        "logreg": LogisticRegression(max_iter=200).fit(X, yv),
        "random_forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, yv),
        "pipeline_scaler_logreg": Pipeline([("scaler", StandardScaler()),
                                            ("clf", LogisticRegression(max_iter=200))]).fit(X, yv),
    }
    for nm, mdl in models.items():
        for pr in (2, 4, 5):
            add(f"{B}/sklearn_{nm}_p{pr}.pkl", B, [], f"scikit-learn {type(mdl).__name__} pickled with protocol {pr}",
                pickle.dumps(mdl, protocol=pr))
    buf = io.BytesIO()
    joblib.dump(models["pipeline_scaler_logreg"], buf)
    add(f"{B}/sklearn_pipeline.joblib", B, [], "joblib.dump(Pipeline) uncompressed", buf.getvalue())
    buf = io.BytesIO()
    joblib.dump(models["random_forest"], buf, compress=3)
    add(f"{B}/sklearn_random_forest_compress3.joblib", B, [], "joblib.dump(RandomForest, compress=3)",
        buf.getvalue())

    # numpy
    arr = np.arange(24, dtype=np.float32).reshape(4, 6) / 7
    add(f"{B}/numpy_array_p2.pkl", B, [], "pickle.dumps(float32 ndarray, protocol=2)", pickle.dumps(arr, protocol=2))
    add(f"{B}/numpy_array_p5.pkl", B, [], "pickle.dumps(float32 ndarray, protocol=5) (BYTEARRAY8)",
        pickle.dumps(arr, protocol=5))
    add(f"{B}/numpy_float32.npy", B, [], "np.save numeric array", npy_numeric(arr))
    npz_members = [("weights.npy", npy_numeric(rng_arr(20, 4, 4))),
                   ("bias.npy", npy_numeric(rng_arr(21, 4))),
                   ("steps.npy", npy_numeric(np.arange(10, dtype=np.int64)))]
    add(f"{B}/numpy_arrays.npz", B, [], "np.savez layout (stored, zip64 extras)", pyzip(npz_members, force_zip64=True))
    obj_arr = np.empty(3, dtype=object)
    obj_arr[:] = [1, "two", (3.0, None)]
    buf = io.BytesIO()
    np.save(buf, obj_arr, allow_pickle=True)
    add(f"{B}/numpy_object_array_plain.npy", B, [],
        "object-dtype .npy holding only plain values (NUMPY-OBJECT-ARRAY is LOW, allowed)", buf.getvalue())

    # plain data pickles, every protocol
    plain = {"name": "mlsecops", "values": [1, 2.5, -3, None, True, False],
             "tuple": (1, "a", None), "set": {1, 2, 3}, "frozenset": frozenset({4, 5}),
             "bytes": b"\x00\x01binary", "bytearray": bytearray(b"ba"),
             "big": 2 ** 100, "neg_big": -(2 ** 70), "float": 1e-300, "complex": 1 + 2j,
             "nested": {"k": [[], {}, ()]}, "unicode": "h\u00e9llo \u2603"}
    for pr in range(0, 6):
        add(f"{B}/plain_data_p{pr}.pkl", B, [], f"dict/list/tuple/set/bytes/big ints, protocol {pr}",
            pickle.dumps(plain, protocol=pr))

    # safetensors
    add(f"{B}/model.safetensors", B, [], "safetensors.numpy.save with harmless __metadata__ {format: pt}",
        small_safetensors({"format": "pt"}))

    # ONNX
    mlp, _ = onnx_mlp()
    add(f"{B}/onnx_mlp.onnx", B, [], "small MLP built with onnx.helper", mlp)
    mlp_ext, blob = onnx_mlp(external="weights.bin")
    add_dir(f"{B}/onnx_external_data", B, [], "ONNX with relative external data in the same folder",
            {"model.onnx": mlp_ext, "weights.bin": blob})

    # GGUF
    add(f"{B}/gguf_llama_tiny.gguf", B, [],
        "GGUFWriter llama-shaped file with benign chat template (namespace, loop, raise_exception)",
        gguf_bytes(BENIGN_TEMPLATE, "mlsecops-tiny"))

    # Keras
    cfg = k3_sequential([k3_input(4), k3_dense("dense", 8, 4), k3_dense("dense_1", 2, 8, "linear")])
    add(f"{B}/keras_v3_dense.keras", B, [], "Keras 3 .keras Sequential of Dense layers",
        keras_v3(cfg, {"dense": [(4, 8), (8,)], "dense_1": [(8, 2), (2,)]}))
    mc = k2_sequential([k2_dense("dense", 8), k2_dense("dense_1", 2, "linear")])
    add(f"{B}/keras_legacy_dense.h5", B, [], "legacy Keras HDF5 with model_config of Dense layers",
        legacy_h5(mc, {"input_1": [], "dense": [("kernel:0", (4, 8)), ("bias:0", (8,))],
                       "dense_1": [("kernel:0", (8, 2)), ("bias:0", (2,))]}))

    # SavedModel
    f32 = {"dtype": av_type(DT_FLOAT)}
    nodes = [
        placeholder("serving_default_x"),
        node("dense/kernel", "VarHandleOp", (), {"dtype": av_type(DT_FLOAT), "shape": av_shape((4, 2)),
                                                 "shared_name": av_s("dense/kernel"), "container": av_s(""),
                                                 "allowed_devices": av_list_s([])}),
        node("dense/MatMul/ReadVariableOp", "ReadVariableOp", ["dense/kernel"], f32),
        node("dense/MatMul", "MatMul", ["serving_default_x", "dense/MatMul/ReadVariableOp"],
             {"T": av_type(DT_FLOAT), "transpose_a": av_b(False), "transpose_b": av_b(False)}),
        node("StatefulPartitionedCall", "Identity", ["dense/MatMul"], {"T": av_type(DT_FLOAT)}),
        placeholder("saver_filename", DT_STRING, ()),
        const_str("Const", "_temp/part"),
        node("StringJoin", "StringJoin", ["saver_filename", "Const"], {"N": pb_int(3, 2), "separator": av_s("")}),
        node("num_shards", "Const", (), {"dtype": av_type(DT_INT32),
                                         "value": pb_bytes(8, pb_int(1, DT_INT32) + pb_bytes(2, b"") + pb_bytes(7, varint(1)))}),
        node("ShardedFilename/shard", "Const", (), {"dtype": av_type(DT_INT32),
                                                    "value": pb_bytes(8, pb_int(1, DT_INT32) + pb_bytes(2, b"") + pb_bytes(7, varint(0)))}),
        node("ShardedFilename", "ShardedFilename", ["StringJoin", "ShardedFilename/shard", "num_shards"]),
        const_str("SaveV2/tensor_names", ["dense/kernel/.ATTRIBUTES/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH"], (2,)),
        const_str("SaveV2/shape_and_slices", ["", ""], (2,)),
        const_str("Const_1", "object-graph-proto"),
        node("SaveV2", "SaveV2", ["ShardedFilename", "SaveV2/tensor_names", "SaveV2/shape_and_slices",
                                  "dense/MatMul/ReadVariableOp", "Const_1"],
             {"dtypes": av_list_type([DT_FLOAT, DT_STRING])}),
        const_str("RestoreV2/tensor_names", ["dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"], (1,)),
        const_str("RestoreV2/shape_and_slices", [""], (1,)),
        node("RestoreV2", "RestoreV2", ["saver_filename", "RestoreV2/tensor_names", "RestoreV2/shape_and_slices"],
             {"dtypes": av_list_type([DT_FLOAT])}),
        node("AssignVariableOp", "AssignVariableOp", ["dense/kernel", "RestoreV2"],
             {"dtype": av_type(DT_FLOAT), "validate_shape": av_b(False)}),
    ]
    saver = (pb_str(1, "saver_filename:0") + pb_str(2, "StatefulPartitionedCall_1:0")
             + pb_str(3, "StatefulPartitionedCall_2") + pb_int(4, 5) + pb_int(5, 1) + pb_int(7, 2))
    add_dir(f"{B}/tf_savedmodel_dense", B, [],
            "SavedModel: Placeholder/VarHandleOp/MatMul, SaveV2/RestoreV2 prefix from saver_filename Placeholder",
            {"saved_model.pb": saved_model(nodes, (), saver, serving_signature())})

    # HF repo
    add_dir(f"{B}/hf_repo_tiny_bert", B, [], "HF repo folder: config, tokenizer_config (benign chat_template), "
            "model.safetensors, generation_config", {
                "config.json": jdump(hf_config()),
                "tokenizer_config.json": jdump(tokenizer_config(BENIGN_TEMPLATE)),
                "special_tokens_map.json": jdump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
                "generation_config.json": jdump({"_from_model_config": True, "bos_token_id": 1,
                                                 "eos_token_id": 2, "transformers_version": "4.46.0"}),
                "model.safetensors": small_safetensors({"format": "pt"})})


# --------------------------------------------------------------------------
# MALFORMED
# --------------------------------------------------------------------------

def st_raw(header: bytes, data: bytes, pad=True) -> bytes:
    if pad:
        header += b" " * ((-len(header)) % 8)
    return struct.pack("<Q", len(header)) + header + data


def gguf_str(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def gguf_kv_str(k: str, v: str) -> bytes:
    return gguf_str(k.encode()) + struct.pack("<I", 8) + gguf_str(v.encode())


def gen_malformed() -> None:
    F = "malformed"
    PM = ["PICKLE-MALFORMED"]
    add(f"{F}/pickle_truncated_no_payload.pkl", F, PM, "benign protocol 4 pickle cut in half",
        pickle.dumps({"weights": list(range(50)), "name": "mlsecops"}, protocol=4)[:60])
    add(f"{F}/pickle_invalid_opcode.pkl", F, PM, "opcode byte 0xff inside a protocol 2 stream",
        proto(2) + OP.EMPTY_DICT + binput(0) + b"\xff" + OP.STOP)
    add(f"{F}/pickle_stack_underflow.pkl", F, PM, "TUPLE2 and SETITEM with an empty stack",
        proto(2) + OP.TUPLE2 + OP.SETITEM + OP.STOP)
    add(f"{F}/pickle_trailing_garbage.pkl", F, ["PICKLE-TRAILING-DATA"],
        "valid pickle followed by non-pickle bytes", pickle.dumps([1, 2, 3], protocol=2) + b"GARBAGE!" * 8)

    base = simple_zip([("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2)),
                       ("archive/version", b"3\n"), ("archive/byteorder", b"little")])
    eocd = base.rfind(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack_from("<II", base, eocd + 12)
    AM = ["ARCHIVE-MALFORMED"]
    add(f"{F}/zip_truncated_central_directory.zip", F, AM,
        "central directory cut short; EOCD still claims the full size",
        base[:cd_off + cd_size // 2] + base[eocd:])
    add(f"{F}/zip_truncated_in_central_directory_no_eocd.zip", F, AM,
        "file ends in the middle of the central directory (no EOCD)", base[:cd_off + cd_size // 2])
    add(f"{F}/zip_eocd_offset_past_end.zip", F, AM, "EOCD central-directory offset beyond the end of file",
        base[:eocd + 16] + struct.pack("<I", len(base) + 4096) + base[eocd + 20:])

    t = bytearray(tar_bytes([("model/data.pkl", pickle.dumps([1, 2], protocol=2))], fmt=tarfile.USTAR_FORMAT))
    t[148:156] = b"0000001\0"
    add(f"{F}/tar_bad_checksum.tar", F, AM, "ustar header whose checksum field is wrong", bytes(t))
    g = gz(pickle.dumps(list(range(100)), protocol=2))
    bad = g[:10] + b"\x07" + b"\xa5" * 40 + g[-8:]  # BFINAL=1, BTYPE=11 (reserved) -> invalid
    add(f"{F}/gzip_corrupt_deflate.pkl.gz", F, AM, "gzip header ok, deflate block type 11 (invalid)", bad)
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, oops"
    hdr += " " * ((-(10 + len(hdr) + 1)) % 64) + "\n"
    add(f"{F}/npy_bad_header.npy", F, ["NUMPY-MALFORMED"], "npy magic ok, header dict unparsable",
        b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\0" * 8)

    SH = ["SAFETENSORS-HEADER-INVALID"]
    data16 = np.arange(4, dtype=np.float32).tobytes()
    good_hdr = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    add(f"{F}/safetensors_header_too_long.safetensors", F, SH, "header length field larger than the file",
        struct.pack("<Q", 1 << 20) + good_hdr + data16)
    add(f"{F}/safetensors_header_invalid_json.safetensors", F, SH, "header is not valid JSON",
        st_raw(b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]', data16))
    add(f"{F}/safetensors_dtype_shape_mismatch.safetensors", F, SH,
        "F32 shape [2,3] (24 bytes) but data_offsets span 16 bytes",
        st_raw(b'{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}', data16))
    add(f"{F}/safetensors_overlapping_tensors.safetensors", F, SH, "two tensors with overlapping byte ranges",
        st_raw(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
               b'"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}', data16 + data16[:8]))
    add(f"{F}/safetensors_offsets_out_of_bounds.safetensors", F, SH, "data_offsets end beyond the file",
        st_raw(b'{"w":{"dtype":"F32","shape":[1024],"data_offsets":[0,4096]}}', data16))
    add(f"{F}/safetensors_trailing_data.safetensors", F, ["SAFETENSORS-TRAILING-DATA"],
        "64 bytes after the last tensor", st_raw(good_hdr, data16 + b"\xcc" * 64))
    add(f"{F}/safetensors_duplicate_keys.safetensors", F, SH, "the same tensor name twice in the header JSON",
        st_raw(b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
               b'"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', data16))

    GH = ["GGUF-HEADER-INVALID"]
    head = b"GGUF" + struct.pack("<I", 3)
    add(f"{F}/gguf_huge_kv_count.gguf", F, GH, "kv_count 2^60 with a single kv present",
        head + struct.pack("<QQ", 0, 1 << 60) + gguf_kv_str("general.architecture", "llama"))
    add(f"{F}/gguf_string_past_eof.gguf", F, GH, "string value length points past the end of file",
        head + struct.pack("<QQ", 0, 1) + gguf_str(b"general.architecture") + struct.pack("<I", 8)
        + struct.pack("<Q", 1 << 40) + b"llama")
    ti = gguf_str(b"token_embd.weight") + struct.pack("<I", 99) + struct.pack("<Q", 1) * 99 \
        + struct.pack("<IQ", 0, 0)
    body = head + struct.pack("<QQ", 1, 1) + gguf_kv_str("general.architecture", "llama") + ti
    body += b"\0" * ((-len(body)) % 32) + b"\0" * 4
    add(f"{F}/gguf_tensor_ndims_99.gguf", F, GH, "tensor info with n_dims = 99", body)

    h5 = legacy_h5(k2_sequential([k2_dense("dense", 2)]), {"input_1": [], "dense": [("kernel:0", (4, 2)), ("bias:0", (2,))]})
    add(f"{F}/hdf5_truncated.h5", F, ["HDF5-MALFORMED"], "legacy Keras .h5 truncated to half its size",
        h5[: len(h5) // 2])
    rnd = random.Random(0xBAD)
    add_in_dir(f"{F}/onnx_random_bytes/model.onnx", F, ["ONNX-MALFORMED"], "512 random bytes named model.onnx",
               b"\x0f\xff" + bytes(rnd.getrandbits(8) for _ in range(510)))
    add_dir(f"{F}/tf_savedmodel_garbage_pb", F, ["TF-MALFORMED"],
            "SavedModel dir whose saved_model.pb is protobuf garbage (length-delimited field past EOF)",
            {"saved_model.pb": b"\x08\x01\x12\xff\xff\xff\xff\x0f" + bytes(rnd.getrandbits(8) for _ in range(64))})
    add(f"{F}/keras_v3_config_not_json.keras", F, ["KERAS-MALFORMED"], ".keras whose config.json is not JSON",
        pyzip([("metadata.json", b'{"keras_version": "3.6.0"}'), ("config.json", b"{'module': keras, ")]))
    add_in_dir(f"{F}/empty_model/model.pt", F, [], "empty file named model.pt (per-file error expected)", b"")


# --------------------------------------------------------------------------

def main() -> int:
    for d in KIND_DIRS:
        shutil.rmtree(HERE / d, ignore_errors=True)
    gen_malicious_pickles()
    gen_malicious_containers()
    gen_malicious_other()
    gen_suspicious()
    gen_benign()
    gen_malformed()

    SAMPLES.sort(key=lambda s: s["path"])
    (HERE / "expected.json").write_text(json.dumps({"samples": SAMPLES}, indent=1, sort_keys=True) + "\n")

    total, problems = 0, []
    for d in KIND_DIRS:
        for p in sorted((HERE / d).rglob("*")):
            if p.is_file():
                size = p.stat().st_size
                total += size
                rel = p.relative_to(HERE).as_posix()
                owner = next((s["path"] for s in SAMPLES if rel == s["path"] or rel.startswith(s["path"] + "/")), None)
                if owner is None:
                    problems.append(f"{rel}: not covered by the manifest")
                if size > MAX_FILE and owner not in BIG_OK:
                    problems.append(f"{rel}: {size} bytes > {MAX_FILE}")
    if total > MAX_TOTAL:
        problems.append(f"total corpus size {total} > {MAX_TOTAL}")
    counts = collections.Counter(s["kind"] for s in SAMPLES)
    print(f"wrote {len(SAMPLES)} samples ({dict(sorted(counts.items()))}), {total} bytes")
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
