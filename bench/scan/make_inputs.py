#!/usr/bin/env python3
"""Generate the large benchmark inputs for `bench/scan/compare.py`.

Writes into OUT_DIR:
  checkpoint.pt  PyTorch checkpoint in torch.save's zip layout (no torch needed)
  raw.pkl        protocol-4 pickle of a dict of numpy float32 arrays
  dense.pkl      protocol-4 pickle of millions of small plain-Python objects
  tiny.pkl       a tiny benign pickle (used to measure start-up time)
  inputs.json    manifest (parameters + sizes); files are reused when it matches

Only the standard library and numpy are used; torch is NOT required.  The
checkpoint mimics what `torch.save(model.state_dict(), f)` writes with torch 2.x:

  archive/data.pkl              protocol 2 pickle: OrderedDict of tensors, each
                                torch._utils._rebuild_tensor_v2(
                                    BINPERSID(('storage', torch.FloatStorage,
                                               key, 'cpu', numel)),
                                    offset, size, stride, False, OrderedDict())
  archive/.format_version       "1"
  archive/.storage_alignment    "64"
  archive/byteorder             "little"
  archive/data/N                raw little-endian float32 bytes, ZIP_STORED,
                                payload aligned to 64 bytes (like torch does,
                                via an "FB" padding extra field)
  archive/version               "3\\n"
  archive/.data/serialization_id
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import random
import struct
import sys
import time
import types
import zipfile

MIB = 1 << 20
ALIGN = 64
# One random block, repeated: fast to write, still incompressible-looking data.
_BLOCK = os.urandom(16 * MIB)


# --------------------------------------------------------------------------
# Fake torch objects, pickled under their real torch names.
# --------------------------------------------------------------------------
def _install_fake_torch() -> types.SimpleNamespace:
    """Register stand-ins for torch.FloatStorage and torch._utils._rebuild_tensor_v2
    in sys.modules so pickle emits `GLOBAL 'torch FloatStorage'` etc."""
    if "torch" in sys.modules and not getattr(sys.modules["torch"], "_mlsecops_fake", False):
        raise SystemExit("a real torch is importable in this process; refusing to shadow it")
    torch_mod = types.ModuleType("torch")
    torch_mod._mlsecops_fake = True
    utils_mod = types.ModuleType("torch._utils")

    class FloatStorage:  # only its name matters
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):  # never called: we only pickle
        raise RuntimeError("fake")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"

    torch_mod.FloatStorage = FloatStorage
    torch_mod._utils = utils_mod
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    sys.modules["torch"] = torch_mod
    sys.modules["torch._utils"] = utils_mod
    return types.SimpleNamespace(FloatStorage=FloatStorage, rebuild=_rebuild_tensor_v2)


class _Storage:
    def __init__(self, key: str, numel: int):
        self.key = key
        self.numel = numel


class _Tensor:
    def __init__(self, fake, storage: _Storage, shape: tuple[int, ...]):
        self._fake = fake
        self.storage = storage
        self.shape = shape

    def __reduce_ex__(self, protocol):
        stride = []
        acc = 1
        for dim in reversed(self.shape):
            stride.append(acc)
            acc *= dim
        stride = tuple(reversed(stride))
        return (
            self._fake.rebuild,
            (self.storage, 0, self.shape, stride, False, collections.OrderedDict()),
        )


class _TorchPickler(pickle.Pickler):
    def __init__(self, f, fake):
        super().__init__(f, protocol=2)
        self._fake = fake

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", self._fake.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _checkpoint_layout(total_bytes: int) -> list[tuple[str, tuple[int, ...]]]:
    """A transformer-ish state dict: per layer a square weight, a bias and a norm
    weight.  Square weights dominate the size."""
    dim = 2048 if total_bytes >= 256 * MIB else 1024
    per_layer = (dim * dim + 2 * dim) * 4
    layers = max(1, round(total_bytes / per_layer))
    out: list[tuple[str, tuple[int, ...]]] = []
    for i in range(layers):
        out.append((f"layers.{i}.weight", (dim, dim)))
        out.append((f"layers.{i}.bias", (dim,)))
        out.append((f"layers.{i}.norm.weight", (dim,)))
    return out


def _write_repeating(fh, nbytes: int) -> None:
    view = memoryview(_BLOCK)
    while nbytes > 0:
        n = min(nbytes, len(view))
        fh.write(view[:n])
        nbytes -= n


def _aligned_info(zf: zipfile.ZipFile, name: str, size: int) -> zipfile.ZipInfo:
    """A ZipInfo whose local header carries an "FB" padding extra field so the
    member's payload starts at a multiple of ALIGN (as torch.save does)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    start = zf.fp.tell()
    # zipfile adds a 20-byte zip64 extra to the local header when it expects a
    # large member (same test as ZipFile._open_to_write).
    z64 = 20 if size * 1.05 > zipfile.ZIP64_LIMIT else 0
    fixed = 30 + len(name.encode("utf-8")) + 4 + z64
    pad = (-(start + fixed)) % ALIGN
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    return info


def make_checkpoint(path: str, total_bytes: int) -> None:
    fake = _install_fake_torch()
    layout = _checkpoint_layout(total_bytes)
    state = collections.OrderedDict()
    storages: list[_Storage] = []
    for idx, (name, shape) in enumerate(layout):
        numel = 1
        for d in shape:
            numel *= d
        st = _Storage(str(idx), numel)
        storages.append(st)
        state[name] = _Tensor(fake, st, shape)
    # torch state dicts carry a _metadata attribute (pickled through BUILD)
    state._metadata = collections.OrderedDict(
        (name.rsplit(".", 1)[0], {"version": 1}) for name, _ in layout
    )

    import io

    buf = io.BytesIO()
    _TorchPickler(buf, fake).dump(state)
    data_pkl = buf.getvalue()

    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:

        def put(name: str, payload: bytes) -> None:
            info = _aligned_info(zf, name, len(payload))
            with zf.open(info, "w") as out:
                out.write(payload)

        put("archive/data.pkl", data_pkl)
        put("archive/.format_version", b"1")
        put("archive/.storage_alignment", b"64")
        put("archive/byteorder", b"little")
        for st in storages:
            nbytes = st.numel * 4
            info = _aligned_info(zf, f"archive/data/{st.key}", nbytes)
            with zf.open(info, "w") as out:
                _write_repeating(out, nbytes)
        put("archive/version", b"3\n")
        put("archive/.data/serialization_id", str(random.Random(7).getrandbits(64)).encode())
    os.replace(tmp, path)


def make_raw_pickle(path: str, total_bytes: int, arrays: int = 16) -> None:
    import numpy as np

    per = max(4, (total_bytes // arrays) // 4 * 4)
    rng = np.random.default_rng(1234)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        state = {}
        for i in range(arrays):
            n = per // 4
            # random values in a small reusable block, tiled: cheap and realistic
            block = rng.standard_normal(min(n, 1 << 20), dtype=np.float32)
            reps = -(-n // block.size)
            arr = np.tile(block, reps)[:n]
            state[f"blocks.{i}.weight"] = arr.reshape(-1, 1024) if n % 1024 == 0 else arr
        pickle.dump(state, fh, protocol=4)
    os.replace(tmp, path)


def _dense_items(rng: random.Random, count: int) -> list:
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
    items: list = []
    for i in range(count):
        k = i % 5
        if k == 0:
            items.append((i, rng.random(), rng.choice(words), None))
        elif k == 1:
            items.append({"id": i, "w": rng.random(), "tag": rng.choice(words) + str(i % 97)})
        elif k == 2:
            items.append([i, [rng.randint(-1000, 1000), rng.random()], None, True])
        elif k == 3:
            items.append((rng.choice(words), (i, -i), {"n": None, "f": 1.5}))
        else:
            items.append([rng.getrandbits(40), f"s{i}", 3.25, [None, [i]]])
    return items


def make_dense_pickle(path: str, total_bytes: int) -> int:
    rng = random.Random(42)
    probe = 20000
    per_item = len(pickle.dumps(_dense_items(random.Random(42), probe), protocol=4)) / probe
    count = max(1000, int(total_bytes / per_item))
    items = _dense_items(rng, count)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(items, fh, protocol=4)
    os.replace(tmp, path)
    return count


def make_tiny(path: str) -> None:
    with open(path, "wb") as fh:
        pickle.dump({"name": "tiny", "values": [1, 2.5, None], "ok": True}, fh, protocol=4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--quick", action="store_true", help="small inputs (64/64/4 MiB)")
    ap.add_argument("--ckpt-mib", type=int)
    ap.add_argument("--raw-mib", type=int)
    ap.add_argument("--dense-mib", type=int)
    ap.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    args = ap.parse_args()

    params = {
        "generator_version": 1,
        "ckpt_mib": args.ckpt_mib or (64 if args.quick else 1024),
        "raw_mib": args.raw_mib or (64 if args.quick else 1024),
        "dense_mib": args.dense_mib or (4 if args.quick else 40),
    }
    os.makedirs(args.out_dir, exist_ok=True)
    manifest_path = os.path.join(args.out_dir, "inputs.json")
    names = ["checkpoint.pt", "raw.pkl", "dense.pkl", "tiny.pkl"]
    if not args.force and os.path.exists(manifest_path):
        try:
            with open(manifest_path) as fh:
                old = json.load(fh)
            if old.get("params") == params and all(
                os.path.getsize(os.path.join(args.out_dir, n)) == old["files"][n]["size"] for n in names
            ):
                print(f"inputs up to date in {args.out_dir}")
                return 0
        except (OSError, KeyError, ValueError):
            pass

    files = {}
    t0 = time.perf_counter()
    p = os.path.join(args.out_dir, "checkpoint.pt")
    make_checkpoint(p, params["ckpt_mib"] * MIB)
    files["checkpoint.pt"] = {"size": os.path.getsize(p), "kind": "pytorch-zip"}
    print(f"  checkpoint.pt  {files['checkpoint.pt']['size'] / MIB:8.1f} MiB  ({time.perf_counter() - t0:.1f}s)")

    t0 = time.perf_counter()
    p = os.path.join(args.out_dir, "raw.pkl")
    make_raw_pickle(p, params["raw_mib"] * MIB)
    files["raw.pkl"] = {"size": os.path.getsize(p), "kind": "pickle-numpy"}
    print(f"  raw.pkl        {files['raw.pkl']['size'] / MIB:8.1f} MiB  ({time.perf_counter() - t0:.1f}s)")

    t0 = time.perf_counter()
    p = os.path.join(args.out_dir, "dense.pkl")
    count = make_dense_pickle(p, params["dense_mib"] * MIB)
    files["dense.pkl"] = {"size": os.path.getsize(p), "kind": "pickle-dense", "objects": count}
    print(f"  dense.pkl      {files['dense.pkl']['size'] / MIB:8.1f} MiB  {count} objects ({time.perf_counter() - t0:.1f}s)")

    p = os.path.join(args.out_dir, "tiny.pkl")
    make_tiny(p)
    files["tiny.pkl"] = {"size": os.path.getsize(p), "kind": "pickle-tiny"}

    with open(manifest_path, "w") as fh:
        json.dump({"params": params, "files": files}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
