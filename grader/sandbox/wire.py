"""Frame codec for the private pipes between the trusted grader and a sandboxed worker.

A frame is ``u32 big-endian header length ‖ UTF-8 JSON header ‖ payload``.  The header is
``{"kind": str, "body": {name: node}, "tensors": [spec, ...]}`` and the payload is the raw bytes of
the tensors, concatenated in ``tensors`` order (little-endian, C order).  Nothing is ever unpickled:
values are a small tagged JSON tree (``{"i": "12"}`` int, ``{"f": "<16 hex digits>"}`` float64 bits,
so nan/inf/-0.0 round-trip exactly, ``{"s": ...}``, ``{"t": [...]}`` tuple, ``{"l": [...]}`` list,
``{"d": [[key, node], ...]}``, ``{"T": index}`` tensor, ``{"g": name, "p": [[key, index], ...]}``
GradFn, ``{"o": [type_name, repr]}`` Opaque, JSON ``null``/``true``/``false``).

Tensors: dtypes float16, bfloat16, float32, float64, int32, int64, bool; at most 8 dimensions and
10**7 elements each; the reader caps the total bytes of a stream.  The same tensor object appearing
twice in one frame is sent once and decodes as one object, so aliasing (``sgd_step(x, x, lr)``)
survives the trip.  The trusted side also sends a non-contiguous tensor's ``strides`` (a transposed
view, a strided slice: what real training code passes), and the worker rebuilds it with those strides,
so ``x.view(-1)`` fails there as it would in the student's own training loop.

A tuple subclass (a ``NamedTuple`` result) is sent as a tuple, a list subclass as a list: read through
``tuple``'s and ``list``'s own C methods, so a subclass that overrides ``__iter__``/``__len__`` cannot
change what is sent.

Two encoders: the trusted side encodes strictly (an unsupported value is a bug: ``TypeError``); the
worker encodes whatever a student returned *leniently*: exact-type checks only, tensors read through
``torch._C.TensorBase`` with ``__torch_function__`` disabled, and anything else (or too large)
becomes an :class:`Opaque` with a guarded, capped ``repr``.  The reader turns every malformed input
into :class:`WireError` (``FrameReader`` records it as ``fault``); it never raises anything else.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from grader.sandbox.values import GradFn, Opaque, TensorValue, Value

HEADER_LEN = struct.Struct(">I")
FLOAT_BITS = struct.Struct("<d")
MAX_HEADER_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 100_000
MAX_ITEMS = 100_000
MAX_STR = 1 << 16
MAX_REPR = 2000
MAX_DIMS = 8
MAX_NUMEL = 10**7
MAX_TENSORS = 4096
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
NUMPY_DTYPES = {"float16", "float32", "float64", "int32", "int64", "bool"}
_NUMPY_OF = {name: np.dtype(name) for name in ("float16", "float32", "float64", "int32", "int64")}
_np_ndarray, _from_numpy = np.ndarray, torch.from_numpy

# Captured once at import (in the zygote), so a student who reassigns torch.* in the worker does
# not change how honest values are converted.
_TB: Any = torch._C.TensorBase  # C type: immutable, so students cannot patch its descriptors
_Tensor = torch.Tensor
_DisableTorchFunction = torch._C.DisableTorchFunction
_ndarray = np.ndarray
_DEVICE_NAMES: dict[torch.device, str] = {}
_dtype_of, _layout_of, _shape_of = _TB.dtype.__get__, _TB.layout.__get__, _TB.shape.__get__
_device_of, _requires_grad_of, _STRIDED = _TB.device.__get__, _TB.requires_grad.__get__, torch.strided
_generic = np.generic
_tuple, _list = tuple, list
_tuple_items, _list_items = tuple.__iter__, list.__iter__  # C slots: a subclass cannot override them
MAX_STORAGE_FACTOR = 4  # a strided tensor may span at most this many times its elements (plus one row)


class WireError(Exception):
    """A malformed or over-limit frame; the message says which rule it broke."""


@dataclass(frozen=True)
class Frame:
    kind: str
    body: dict[str, Value]


class _TooLarge(Exception):
    pass


_TYPE_NAMES: dict[type, str] = {}


def type_name(obj: object) -> str:
    """``module.qualname`` of ``type(obj)`` without running metaclass code."""
    cls = type(obj)
    cached = _TYPE_NAMES.get(cls)
    if cached is not None:
        return cached
    name = _type_name(cls)
    if len(_TYPE_NAMES) < 1000:
        _TYPE_NAMES[cls] = name
    return name


def _type_name(cls: type) -> str:
    try:
        module = type.__dict__["__module__"].__get__(cls)
        qualname = type.__dict__["__qualname__"].__get__(cls)
    except BaseException:  # noqa: BLE001 - a hostile class must not break encoding
        return "<unknown type>"
    if type(module) is not str or type(qualname) is not str:
        return "<unknown type>"
    return qualname if module == "builtins" else f"{module}.{qualname}"[:200]


def safe_repr(obj: object) -> str:
    """``repr(obj)`` capped at MAX_REPR characters; runs student code, so every failure is caught."""
    try:
        text = repr(obj)
    except BaseException as exc:  # noqa: BLE001 - includes SystemExit/KeyboardInterrupt from student code
        return f"<repr raised {type_name(exc)}>"
    if type(text) is not str:
        return "<repr returned a non-str>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "…"


def _float_node(x: float) -> dict[str, str]:
    return {"f": FLOAT_BITS.pack(x).hex()}


class _Encoder:
    def __init__(self, *, lenient: bool, max_payload: int) -> None:
        self.lenient = lenient
        self.max_payload = max_payload
        self.specs: list[dict[str, Any]] = []
        self.chunks: list[bytes] = []
        self.payload = 0
        self.nodes = 0
        self.seen: dict[int, tuple[int, object]] = {}  # id(tensor) -> (index, tensor kept alive)

    def top(self, value: object) -> Any:
        if not self.lenient:
            return self.node(value, 0)
        n_specs, payload, nodes = len(self.specs), self.payload, self.nodes
        try:
            return self.node(value, 0)
        except _TooLarge as exc:  # roll back the tensors this value added
            del self.specs[n_specs:], self.chunks[n_specs:]
            self.seen = {k: v for k, v in self.seen.items() if v[0] < n_specs}
            self.payload, self.nodes = payload, nodes + 1
            return {"o": [type_name(value), f"<not sent: {exc}>"]}

    def _reject(self, value: object, why: str) -> Any:
        if self.lenient:
            return {"o": [type_name(value), safe_repr(value) if not why else f"<{why}>"]}
        raise TypeError(
            f"cannot send {type_name(value)} to the sandbox: {why or 'not a wire type'}. Expected None, "
            f"bool, int, float, str, tuple, list, dict[str, ...], torch.Tensor, TensorValue, GradFn or "
            f"Opaque. Fix: convert it before building the Request."
        )

    def node(self, value: object, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            if self.lenient:
                raise _TooLarge(f"more than {MAX_NODES} values or nesting deeper than {MAX_DEPTH}")
            raise ValueError(f"value too large: more than {MAX_NODES} nodes or deeper than {MAX_DEPTH}")
        cls = type(value)
        if cls is _Tensor:  # the usual answer first (subclasses are met further down)
            return self.tensor(value, device=None, tname=None, requires_grad=None)
        if value is None or cls is bool:
            return value
        if cls is int:
            assert isinstance(value, int)
            if INT64_MIN <= value <= INT64_MAX:
                return {"i": str(value)}
            return self._reject(value, f"int out of int64 range ({value.bit_length()} bits)")
        if cls is float:
            assert isinstance(value, float)
            return _float_node(value)
        if cls is str:
            assert isinstance(value, str)
            if len(value) <= MAX_STR:
                return {"s": value}
            if self.lenient:
                return {"o": ["str", value[:MAX_REPR] + f"… <{len(value)} characters>"]}
            raise ValueError(f"str of {len(value)} characters exceeds {MAX_STR}")
        if cls is tuple or cls is list or issubclass(cls, _tuple) or issubclass(cls, _list):
            # NamedTuple results included, read through the base type's own methods, never the subclass's
            is_tuple = issubclass(cls, _tuple)
            try:
                items: list[object] = _list(_tuple_items(value) if is_tuple else _list_items(value))  # type: ignore[arg-type]
            except BaseException:  # noqa: BLE001 - a hostile subclass's items
                return self._reject(value, "items could not be read")
            if len(items) > MAX_ITEMS:
                return self._reject(value, f"{len(items)} items exceed {MAX_ITEMS}")
            return {"t" if is_tuple else "l": [self.node(v, depth + 1) for v in items]}
        if cls is dict:
            assert isinstance(value, dict)
            pairs = list(dict.items(value))
            if len(pairs) > MAX_ITEMS or any(type(k) is not str for k, _ in pairs):
                return self._reject(value, "dict keys must be str" if len(pairs) <= MAX_ITEMS else "too many items")
            return {"d": [[k, self.node(v, depth + 1)] for k, v in pairs]}
        if issubclass(cls, _TB):
            return self.tensor(value, device=None, tname=None, requires_grad=None)
        if cls is TensorValue:
            assert isinstance(value, TensorValue)
            return self.tensor(value.tensor, value.device, value.type_name, value.requires_grad)
        if cls is GradFn:
            assert isinstance(value, GradFn)
            params = [[k, self.tensor(t, None, None, None)["T"]] for k, t in dict(value.params).items()]
            return {"g": value.objective, "p": params}
        if cls is Opaque:
            assert isinstance(value, Opaque)
            return {"o": [str(value.type_name)[:200], str(value.repr)[:MAX_REPR]]}
        if self.lenient and (cls is _ndarray or issubclass(cls, _generic)):
            return self.array(value)
        return self._reject(value, "")

    def _add(self, key: object, spec: dict[str, Any], data: bytes) -> dict[str, Any]:
        if self.payload + len(data) > self.max_payload:
            message = f"{len(data)} bytes of tensor data exceed the remaining reply cap of {self.max_payload} bytes"
            if self.lenient:
                return {"o": [type_name(key), f"<tensor not sent: {message}>"]}
            raise ValueError(message)
        self.payload += len(data)
        self.specs.append(spec)
        self.chunks.append(data)
        self.seen[id(key)] = (len(self.specs) - 1, key)
        return {"T": len(self.specs) - 1}

    def tensor(self, t: object, device: str | None, tname: str | None, requires_grad: bool | None) -> Any:
        if id(t) in self.seen and self.seen[id(t)][1] is t:
            return {"T": self.seen[id(t)][0]}
        if not issubclass(type(t), _TB):
            return self._reject(t, "expected a torch.Tensor")
        try:
            spec, data = _tensor_bytes(t)
        except BaseException as exc:  # noqa: BLE001 - a hostile tensor subclass can raise anything
            if not self.lenient:
                raise ValueError(f"cannot send tensor: {exc}") from exc
            return {"o": [type_name(t), f"<tensor not sent: {type_name(exc)}: {safe_repr(exc)[:300]}>"]}
        if not self.lenient and not _TB.is_contiguous(t):  # trusted side: the worker rebuilds the layout
            spec["strides"] = [int(d) for d in _TB.stride(t)]
        if device is not None:
            spec["device"] = str(device)[:64]
        if tname is not None:
            spec["type"] = str(tname)[:200]
        if requires_grad is not None:
            spec["requires_grad"] = bool(requires_grad)
        return self._add(t, spec, data)

    def array(self, a: object) -> Any:
        try:
            arr = np.array(a, copy=True)
            name = str(arr.dtype)
            if name not in NUMPY_DTYPES or arr.ndim > MAX_DIMS or arr.size > MAX_NUMEL:
                return {"o": [type_name(a), f"<numpy {name} array of shape {arr.shape} not sent>"]}
            data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
            spec = {
                "dtype": name,
                "shape": [int(d) for d in arr.shape],
                "device": "cpu",
                "type": type_name(a),
                "requires_grad": False,
            }
        except BaseException as exc:  # noqa: BLE001
            return {"o": [type_name(a), f"<array not sent: {type_name(exc)}>"]}
        return self._add(a, spec, data)


def _tensor_bytes(t: object) -> tuple[dict[str, Any], bytes]:
    """Read a (possibly subclassed, possibly lying) tensor through the C base type."""
    with _DisableTorchFunction():
        dtype = _dtype_of(t)
        name = DTYPE_NAMES.get(dtype)
        if name is None:
            raise ValueError(f"dtype {dtype} is not one of {', '.join(DTYPES)}")
        if _layout_of(t) != _STRIDED:
            raise ValueError(f"layout {_layout_of(t)} is not strided")
        shape = list(_shape_of(t))  # a real torch.Size from C: ints
        numel = math.prod(shape)
        if len(shape) > MAX_DIMS or numel > MAX_NUMEL:
            raise ValueError(f"shape {tuple(shape)} exceeds {MAX_DIMS} dims / {MAX_NUMEL} elements")
        device_obj = _device_of(t)
        device = _DEVICE_NAMES.get(device_obj) or _DEVICE_NAMES.setdefault(device_obj, str(device_obj))
        requires_grad = bool(_requires_grad_of(t))
        if dtype == torch.bfloat16:  # numpy has no bfloat16: move the raw 16-bit words instead
            plain = _TB.contiguous(_TB.cpu(_TB.detach(t)))
            data = _TB.numpy(_TB.view(plain, torch.int16), force=True).tobytes()
        else:  # detach + cpu + resolve_conj/neg in one call; tobytes() is always C order
            array = _TB.numpy(t, force=True)
            if list(array.shape) != shape:
                raise ValueError("tensor data does not match its shape")
            data = array.tobytes()
        if len(data) != numel * dtype.itemsize:
            raise ValueError("tensor bytes do not match its shape")
    return {"dtype": name, "shape": shape, "device": device, "type": type_name(t), "requires_grad": requires_grad}, data


def encode_frame(kind: str, body: Mapping[str, object], *, lenient: bool = False, max_payload: int = 64 << 20) -> bytes:
    """One frame.  ``lenient`` (worker side): never raises for odd values, sends Opaque instead."""
    enc = _Encoder(lenient=lenient, max_payload=max_payload)
    nodes = {str(k): enc.top(v) for k, v in body.items()}
    header = _JSON_OUT.encode({"kind": kind, "body": nodes, "tensors": enc.specs}).encode()
    if len(header) > MAX_HEADER_BYTES:
        if not lenient:
            raise ValueError(f"frame header of {len(header)} bytes exceeds {MAX_HEADER_BYTES}")
        return encode_frame(kind, {k: Opaque("header", "<frame too large; values not sent>") for k in body})
    return HEADER_LEN.pack(len(header)) + header + b"".join(enc.chunks)


# ---------------------------------------------------------------- decoding (never trusts input)


def _fail(message: str) -> WireError:
    return WireError(message)


_HEADER_KEYS = frozenset({"kind", "body", "tensors"})
_SPEC_KEYS = frozenset({"dtype", "shape", "device", "type", "requires_grad"})
_STRIDED_KEYS = _SPEC_KEYS | {"strides"}
Spec = tuple[str, list[int], int, str, str, bool, "list[int] | None"]


def _check_strides(strides: object, shape: list[int], numel: int) -> list[int]:
    """Strides that lay ``shape`` out without overlap, spanning at most MAX_STORAGE_FACTOR × its elements."""
    if type(strides) is not list or len(strides) != len(shape) or any(type(d) is not int or d < 0 for d in strides):
        raise _fail(f"tensor strides {str(strides)[:100]} must be a list of {len(shape)} ints >= 0")
    span = 1
    dims = sorted(((d, z) for d, z in zip(strides, shape, strict=True) if z > 1))
    for stride, size in dims:  # each dimension steps over everything the smaller ones span
        if stride < span:
            raise _fail(f"tensor strides {strides} overlap for shape {shape}")
        span = stride * (size - 1) + span
    if span > MAX_STORAGE_FACTOR * numel + 64:
        raise _fail(f"tensor strides {strides} span {span} elements for {numel}")
    return strides


def _check_spec(spec: object) -> Spec:
    if type(spec) is not dict or (spec.keys() != _SPEC_KEYS and spec.keys() != _STRIDED_KEYS):
        raise _fail(f"tensor spec must have keys dtype, shape, device, type, requires_grad (and strides); "
                    f"got {str(spec)[:100]}")
    dtype, shape, device, tname, rg = spec["dtype"], spec["shape"], spec["device"], spec["type"], spec["requires_grad"]
    if type(dtype) is not str or dtype not in DTYPES:
        raise _fail(f"tensor dtype {str(dtype)[:40]!r} is not one of {', '.join(DTYPES)}")
    if type(shape) is not list or len(shape) > MAX_DIMS:
        raise _fail(f"tensor shape {str(shape)[:100]} must be a list of at most {MAX_DIMS} ints >= 0")
    numel = 1
    for d in shape:
        if type(d) is not int or d < 0:
            raise _fail(f"tensor shape {str(shape)[:100]} must be a list of at most {MAX_DIMS} ints >= 0")
        numel *= d
        if numel > MAX_NUMEL:
            raise _fail(f"tensor shape {shape} has more than {MAX_NUMEL} elements")
    if type(device) is not str or len(device) > 64 or type(tname) is not str or len(tname) > 200:
        raise _fail("tensor device/type must be short strings")
    if type(rg) is not bool:
        raise _fail("tensor requires_grad must be a bool")
    strides = _check_strides(spec["strides"], shape, numel) if "strides" in spec else None
    return dtype, shape, numel * DTYPES[dtype].itemsize, device, tname, rg, strides


class _Decoder:
    def __init__(
        self,
        specs: list[Spec],
        payload: bytes,
        *,
        as_tensor_values: bool,
        as_templates: bool = False,
    ) -> None:
        self.specs = specs
        self.payload = payload
        self.as_tensor_values = as_tensor_values
        self.as_templates = as_templates
        self.offsets: list[int] = []
        offset = 0
        for spec in specs:
            self.offsets.append(offset)
            offset += spec[2]
        self.cache: dict[int, Any] = {}
        self.nodes = 0

    def raw_tensor(self, index: object) -> torch.Tensor:
        if type(index) is not int or not 0 <= index < len(self.specs):
            raise _fail(f"tensor index {str(index)[:40]} out of range 0..{len(self.specs) - 1}")
        dtype, shape, nbytes, _, _, _, _ = self.specs[index]
        start = self.offsets[index]
        chunk = bytearray(memoryview(self.payload)[start : start + nbytes])  # one copy, writable
        if dtype == "bool":
            flat = torch.frombuffer(chunk, dtype=torch.uint8) != 0 if nbytes else torch.zeros(0, dtype=torch.bool)
        elif not nbytes:
            flat = torch.zeros(0, dtype=DTYPES[dtype])
        elif len(shape) == 1:
            return torch.frombuffer(chunk, dtype=DTYPES[dtype])
        elif dtype in _NUMPY_OF:  # a numpy view shaped in place: a third of what torch's reshape costs
            return _from_numpy(_np_ndarray(shape, _NUMPY_OF[dtype], chunk))
        else:
            flat = torch.frombuffer(chunk, dtype=DTYPES[dtype])
        return flat if len(shape) == 1 else flat.reshape(shape)

    def tensor(self, index: object) -> Any:
        if type(index) is int and index in self.cache:
            return self.cache[index]
        t = self.raw_tensor(index)
        assert isinstance(index, int)
        _, shape, _, device, tname, rg, strides = self.specs[index]
        out: Any
        if self.as_tensor_values:
            out = TensorValue(t, device, tname, rg)
        elif self.as_templates:  # the zygote: kept, copied for each worker that asks (instantiate)
            out = _TensorTemplate(t, device, rg, strides)
        else:  # worker side: a real tensor where the grader put it, laid out as the grader's was
            out = _worker_tensor(t, device, rg, strides, shape)
        self.cache[index] = out
        return out

    def node(self, j: object, depth: int) -> Value:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _fail(f"value has more than {MAX_NODES} nodes or nests deeper than {MAX_DEPTH}")
        if j is None or j is True or j is False:
            return j
        if type(j) is not dict:
            raise _fail(f"malformed value node {str(j)[:80]}")
        if len(j) == 1:
            ((tag, body),) = j.items()
        elif len(j) == 2 and "g" in j:
            tag, body = "g", j
        else:
            raise _fail(f"malformed value node {str(j)[:80]}")
        # The tags in the order they are most often met (a tensor, a tuple of them, a float, ...).
        if tag == "T":
            return self.tensor(body)  # type: ignore[no-any-return]
        if tag == "t" or tag == "l":
            if type(body) is not list or len(body) > MAX_ITEMS:
                raise _fail("tuple/list node must hold a list")
            items = [self.node(v, depth + 1) for v in body]
            return tuple(items) if tag == "t" else items
        if tag == "f":
            if type(body) is not str or len(body) != 16:
                raise _fail("float node must hold 16 hex digits")
            try:
                return float(FLOAT_BITS.unpack(bytes.fromhex(body))[0])
            except ValueError:
                raise _fail(f"float node {body!r} is not hex") from None
        if tag == "s":
            if type(body) is not str or len(body) > MAX_STR:
                raise _fail("str node must hold a string of at most 65536 characters")
            return body
        if tag == "i":
            if type(body) is not str or not 0 < len(body) <= 20:
                raise _fail("int node must hold a decimal string")
            try:
                value = int(body)
            except ValueError:
                raise _fail(f"int node {body!r} is not a decimal integer") from None
            if not INT64_MIN <= value <= INT64_MAX:
                raise _fail(f"int {value} is out of int64 range")
            return value
        if tag == "d":
            if type(body) is not list or len(body) > MAX_ITEMS:
                raise _fail("dict node must hold a list of [key, value] pairs")
            out: dict[str, Value] = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    raise _fail("dict entries must be [str, value] pairs")
                out[pair[0]] = self.node(pair[1], depth + 1)
            return out
        if tag == "g":
            assert isinstance(body, dict)
            name, params = body.get("g"), body.get("p")
            if type(name) is not str or len(name) > 100 or type(params) is not list or len(params) > 64:
                raise _fail("GradFn node must hold a name and a list of [key, tensor index] pairs")
            decoded: dict[str, torch.Tensor] = {}
            for pair in params:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    raise _fail("GradFn params must be [str, tensor index] pairs")
                value = self.tensor(pair[1])
                decoded[pair[0]] = value.tensor if isinstance(value, TensorValue) else value
            return GradFn(name, decoded)  # (templates: instantiate copies their params)
        if tag == "o":
            if type(body) is not list or len(body) != 2 or any(type(s) is not str for s in body):
                raise _fail("Opaque node must hold [type_name, repr]")
            return Opaque(body[0][:200], body[1][: MAX_REPR + 1])
        raise _fail(f"unknown value tag {str(tag)[:20]!r}")


def _worker_tensor(t: torch.Tensor, device: str, requires_grad: bool, strides: list[int] | None,
                   shape: list[int]) -> torch.Tensor:
    """A decoded tensor as the worker hands it to student code: where the grader put it, laid out as the
    grader's was, requiring grad where the grader's did."""
    if strides is not None:
        t = torch.empty_strided(shape, strides, dtype=t.dtype, device=device).copy_(t)
    elif device != "cpu":
        t = t.to(device)
    return t.requires_grad_(requires_grad) if requires_grad and t.is_floating_point() else t


@dataclass(frozen=True, eq=False)
class _TensorTemplate:
    data: torch.Tensor  # contiguous, on the CPU
    device: str
    requires_grad: bool
    strides: list[int] | None


class Templates:
    """Request frames decoded once (in the zygote, before it forks workers), each handed out as a fresh
    copy (``instantiate``): a worker then copies tensors instead of parsing a frame, with the same result
    a decoded frame would give — new tensors with the sender's dtype, shape, strides, device and
    ``requires_grad``, a tensor sent twice still one object, new containers.  Only the grader's own frames
    are kept here (``Sandbox.preload``), read with the same defensive reader as any other."""

    def __init__(self, blob: bytes, *, max_bytes: int = 1 << 30) -> None:
        reader = FrameReader(max_bytes=max_bytes, as_tensor_values=False, as_templates=True)
        self.frames = reader.feed(blob)
        if reader.fault is not None or not reader.idle:
            raise WireError(f"request templates: {reader.fault or 'the last frame is cut short'}")

    def __len__(self) -> int:
        return len(self.frames)

    def instantiate(self, index: object) -> Frame:
        if type(index) is not int or not 0 <= index < len(self.frames):
            raise _fail(f"request template {str(index)[:40]} out of range 0..{len(self.frames) - 1}")
        frame = self.frames[index]
        memo: dict[int, Any] = {}
        return Frame(frame.kind, {k: _instantiate(v, memo) for k, v in frame.body.items()})


def _instantiate(value: Any, memo: dict[int, Any]) -> Any:
    cls = type(value)
    if cls is _TensorTemplate:
        made = memo.get(id(value))
        if made is None:
            shape = list(value.data.shape)
            t = value.data if value.strides is not None or value.device != "cpu" else value.data.clone()
            made = memo[id(value)] = _worker_tensor(t, value.device, value.requires_grad, value.strides, shape)
        return made
    if cls is tuple:
        return tuple(_instantiate(v, memo) for v in value)
    if cls is list:
        return [_instantiate(v, memo) for v in value]
    if cls is dict:
        return {k: _instantiate(v, memo) for k, v in value.items()}
    if cls is GradFn:
        return GradFn(value.objective, {k: _instantiate(t, memo) for k, t in value.params.items()})
    return value  # None, bool, int, float, str, Opaque: immutable


def _parse_header(raw: bytes) -> tuple[str, dict[str, Any], list[Spec]]:
    try:
        header = _JSON_IN.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _fail(f"header is not valid JSON: {str(exc)[:100]}") from None
    if type(header) is not dict or header.keys() != _HEADER_KEYS:
        raise _fail("header must be an object with keys kind, body, tensors")
    kind, body, tensors = header["kind"], header["body"], header["tensors"]
    if type(kind) is not str or not 0 < len(kind) <= 32:
        raise _fail("header kind must be a short string")
    if type(body) is not dict or len(body) > 64:
        raise _fail("header body must be an object with at most 64 fields")
    if type(tensors) is not list or len(tensors) > MAX_TENSORS:
        raise _fail(f"header tensors must be a list of at most {MAX_TENSORS} specs")
    return kind, body, [_check_spec(s) for s in tensors]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in a header")


# Built once: json.dumps/json.loads with options build a new coder per call (a few µs per frame).
_JSON_OUT = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))
_JSON_IN = json.JSONDecoder(parse_constant=_reject_constant)


class FrameReader:
    """Incremental, defensive frame parser for one byte stream.

    ``feed(data)`` returns the frames completed so far.  On the first malformed or over-limit input
    it sets ``fault`` (a human-readable string) and ignores everything after; it never raises.
    ``max_bytes`` caps the whole stream (the job's reply budget), so memory stays bounded.
    """

    def __init__(self, *, max_bytes: int, as_tensor_values: bool = True, as_templates: bool = False) -> None:
        self.max_bytes = max_bytes
        self.as_tensor_values = as_tensor_values
        self.as_templates = as_templates
        self.fault: str | None = None
        self.received = 0
        self._buf = bytearray()
        self._pending: tuple[str, dict[str, Any], list[Any], int] | None = None

    @property
    def idle(self) -> bool:
        """True when no partial frame is buffered (a clean place for the stream to end)."""
        return not self._buf and self._pending is None

    def feed(self, data: bytes) -> list[Frame]:
        if self.fault is not None:
            return []
        frames: list[Frame] = []
        try:
            self._feed(data, frames)
        except WireError as exc:
            self.fault = str(exc)
        except Exception as exc:  # noqa: BLE001 - defensive: any parser surprise is a protocol fault
            self.fault = f"malformed frame ({type(exc).__name__}: {str(exc)[:200]})"
        if self.fault is not None:
            self._buf.clear()
            self._pending = None
        return frames

    def _feed(self, data: bytes, frames: list[Frame]) -> None:
        self.received += len(data)
        if self.received > self.max_bytes:
            raise _fail(f"worker sent more than the reply cap of {self.max_bytes} bytes")
        self._buf += data
        buf, at, end = self._buf, 0, len(self._buf)  # frames are read at an offset; what they used is dropped
        hsize = HEADER_LEN.size                          # once, at the end
        try:
            with memoryview(buf) as view:
                while True:
                    pending = self._pending
                    if pending is None:
                        if end - at < hsize:
                            return
                        (hlen,) = HEADER_LEN.unpack_from(buf, at)
                        if not 0 < hlen <= MAX_HEADER_BYTES:
                            raise _fail(f"header length {hlen} is not in 1..{MAX_HEADER_BYTES}")
                        if end - at < hsize + hlen:
                            return
                        at += hsize
                        kind, body, specs = _parse_header(view[at : at + hlen].tobytes())
                        at += hlen
                        size = sum(s[2] for s in specs) if specs else 0
                        if size > self.max_bytes:
                            raise _fail(f"frame declares {size} payload bytes, over the cap of {self.max_bytes}")
                        pending = self._pending = (kind, body, specs, size)
                    kind, body, specs, size = pending
                    if end - at < size:
                        return
                    payload = view[at : at + size].tobytes() if size else b""
                    at += size
                    self._pending = None
                    decoder = _Decoder(specs, payload, as_tensor_values=self.as_tensor_values,
                                       as_templates=self.as_templates)
                    frames.append(Frame(kind, {str(k): decoder.node(v, 0) for k, v in body.items()}))
        finally:
            del buf[:at]


def decode_frames(data: bytes, *, max_bytes: int = 64 << 20) -> tuple[list[Frame], str | None]:
    """Parse a complete byte string: the frames, and a fault (including a truncated last frame)."""
    reader = FrameReader(max_bytes=max_bytes)
    frames = reader.feed(data)
    if reader.fault is None and not reader.idle:
        return frames, "stream ended inside a frame (truncated)"
    return frames, reader.fault
