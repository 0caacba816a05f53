"""The frame codec: exact round trips, and every malformed input is a fault, never an exception or hang."""

from __future__ import annotations

import json
import math
import struct
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.sandbox import GradFn, Opaque, TensorValue
from grader.sandbox.wire import (
    HEADER_LEN,
    MAX_HEADER_BYTES,
    FrameReader,
    Templates,
    WireError,
    decode_frames,
    encode_frame,
)

FUZZ = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _frame(header: object, payload: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return HEADER_LEN.pack(len(raw)) + raw + payload


def _spec(dtype: str = "float64", shape: list[int] | None = None) -> dict[str, object]:
    return {"dtype": dtype, "shape": [2] if shape is None else shape, "device": "cpu", "type": "torch.Tensor",
            "requires_grad": False}


def test_round_trip_of_every_value_kind() -> None:
    x = torch.tensor([[1.0, float("nan")], [float("-inf"), -0.0]], dtype=torch.float64)
    body = {
        "plain": (None, True, False, -(2**63), 2**63 - 1, 0.1, float("nan"), "ü\x00", [1, [2]], {"a": ()}),
        "tensors": [x, x.float(), x.half(), x.bfloat16(), torch.tensor([1, 2], dtype=torch.int32),
                    torch.tensor([True]), torch.zeros(0, 3)],
        "meta": TensorValue(torch.ones(1), "cuda:0", "optimizers.Liar", True),
        "grad": GradFn("quadratic", {"a": torch.ones(2), "c": torch.zeros(2)}),
        "opaque": Opaque("optimizers.Evil", "<evil>"),
    }
    (frame,), fault = decode_frames(encode_frame("reply", body))
    assert fault is None
    assert frame.kind == "reply"
    plain = frame.body["plain"]
    assert plain[:6] == body["plain"][:6]  # type: ignore[index]
    assert math.isnan(plain[6])  # type: ignore[index]
    assert plain[7:] == ("ü\x00", [1, [2]], {"a": ()})  # type: ignore[index]
    for got, want in zip(frame.body["tensors"], body["tensors"], strict=True):  # type: ignore[arg-type]
        assert isinstance(got, TensorValue)
        assert got.tensor.dtype == want.dtype
        assert got.tensor.shape == want.shape
        assert got.tensor.flatten().tolist() == want.flatten().tolist() or want.is_floating_point()
        if want.is_floating_point():  # bit-exact, NaN and -0.0 included
            assert torch.equal(got.tensor.view(torch.uint8), want.view(torch.uint8))
    meta = frame.body["meta"]
    assert isinstance(meta, TensorValue)
    assert (meta.device, meta.type_name, meta.requires_grad) == ("cuda:0", "optimizers.Liar", True)
    grad = frame.body["grad"]
    assert isinstance(grad, GradFn)
    assert torch.equal(grad.params["a"], torch.ones(2))
    assert frame.body["opaque"] == Opaque("optimizers.Evil", "<evil>")


def test_strict_encoder_names_unsupported_values() -> None:
    with pytest.raises(TypeError, match="cannot send set"):
        encode_frame("request", {"args": ({1, 2},)})
    with pytest.raises(TypeError, match="int out of int64 range"):
        encode_frame("request", {"args": (2**64,)})


def test_frames_split_at_every_byte_boundary() -> None:
    data = encode_frame("a", {"x": torch.arange(5.0)}) + encode_frame("b", {"y": "z"})
    for cut in range(len(data) + 1):
        reader = FrameReader(max_bytes=1 << 20)
        frames = reader.feed(data[:cut]) + reader.feed(data[cut:])
        assert [f.kind for f in frames] == ["a", "b"]
        assert reader.fault is None


@pytest.mark.parametrize(
    ("data", "fault"),
    [
        (b"\xff\xff\xff\xff", "header length"),
        (HEADER_LEN.pack(0), "header length"),
        (HEADER_LEN.pack(MAX_HEADER_BYTES + 1), "header length"),
        (HEADER_LEN.pack(3) + b"{x}", "not valid JSON"),
        (HEADER_LEN.pack(2) + b"\xc3(", "not valid JSON"),
        (_frame([1, 2]), "keys kind, body, tensors"),
        (_frame({"kind": "r", "body": {"v": 1}, "tensors": []}), "malformed value node"),
        (_frame({"kind": "r", "body": {"v": {"i": "1e400"}}, "tensors": []}), "not a decimal"),
        (_frame({"kind": "r", "body": {"v": {"i": "99999999999999999999"}}, "tensors": []}), "int64"),
        (_frame({"kind": "r", "body": {"v": {"f": "zz"}}, "tensors": []}), "16 hex"),
        (_frame({"kind": "r", "body": {"v": {"T": 0}}, "tensors": []}), "out of range"),
        (_frame({"kind": "r", "body": {"v": {"T": 0}}, "tensors": [_spec("complex64")]}), "dtype"),
        (_frame({"kind": "r", "body": {}, "tensors": [_spec(shape=[-1])]}), "ints >= 0"),
        (_frame({"kind": "r", "body": {}, "tensors": [_spec(shape=[10**9, 10**9])]}), "elements"),
        (_frame({"kind": "r", "body": {}, "tensors": [_spec(shape=[1] * 9)]}), "at most 8"),
        (_frame({"kind": "r", "body": {}, "tensors": [_spec(shape=[True])]}), "ints >= 0"),
        (_frame({"kind": "r", "body": {}, "tensors": [{**_spec(), "evil": 1}]}), "must have keys"),
        (_frame({"kind": "r", "body": {"v": {"zz": 1}}, "tensors": []}), "unknown value tag"),
        (HEADER_LEN.pack(20) + b'{"kind": NaN, "b":1}', "not valid JSON"),
        (_frame({"kind": "r", "body": {"v": json.loads("[" * 50 + "]" * 50)}, "tensors": []}), "node"),
        (b"\x00\x00\x04\x00" + b"[" * 1024, "not valid JSON"),
    ],
)
def test_malformed_frames_are_faults(data: bytes, fault: str) -> None:
    frames, got = decode_frames(data)
    assert frames == []
    assert got is not None
    assert fault in got


def test_stream_cap_is_enforced_before_buffering() -> None:
    reader = FrameReader(max_bytes=1000)
    assert reader.feed(b"\x00" * 1001) == []
    assert reader.fault is not None
    assert "cap" in reader.fault
    huge = _frame({"kind": "r", "body": {}, "tensors": [_spec(shape=[10**6])]})
    reader = FrameReader(max_bytes=1 << 20)
    reader.feed(huge)
    assert reader.fault is not None
    assert "over the cap" in reader.fault


def test_truncated_stream_is_reported() -> None:
    data = encode_frame("r", {"x": torch.arange(3.0)})
    frames, fault = decode_frames(data[:-1])
    assert frames == []
    assert fault is not None
    assert "truncated" in fault


def test_float_bits_are_exact() -> None:
    weird = struct.unpack("<d", bytes.fromhex("0100000000f8ff7f"))[0]  # a NaN with a payload
    (frame,), _ = decode_frames(encode_frame("r", {"x": weird}))
    assert struct.pack("<d", frame.body["x"]) == struct.pack("<d", weird)  # type: ignore[arg-type]


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    start = time.monotonic()
    decode_frames(data)
    assert time.monotonic() - start < 1.0


@FUZZ
@given(st.data())
def test_fuzz_mutated_valid_frames(data: st.DataObject) -> None:
    base = encode_frame("reply", {"value": (torch.arange(4.0), [1, "x", None], {"k": 2.5}), "raised": None})
    position = data.draw(st.integers(0, len(base) - 1))
    replacement = data.draw(st.binary(min_size=0, max_size=8))
    cut = data.draw(st.integers(0, len(base)))
    mutated = (base[:position] + replacement + base[position + len(replacement):])[:cut]
    reader = FrameReader(max_bytes=1 << 16)
    frames = reader.feed(mutated)
    assert all(f.kind for f in frames)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(json_values, st.lists(st.dictionaries(st.sampled_from(["dtype", "shape", "device", "type",
                                                               "requires_grad"]), json_values), max_size=3),
       st.binary(max_size=256))
def test_fuzz_structured_garbage(body: object, specs: list[object], payload: bytes) -> None:
    for header in ({"kind": "reply", "body": {"value": body}, "tensors": specs},
                   {"kind": "reply", "body": body, "tensors": specs}, body):
        frames, fault = decode_frames(_frame(header, payload), max_bytes=1 << 16)
        assert fault is not None or all(f.kind == "reply" for f in frames)


dtypes = st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32, torch.int64,
                          torch.bool])


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    dtype = draw(dtypes)
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    raw = torch.frombuffer(bytearray(draw(st.binary(min_size=8 * 27, max_size=8 * 27))), dtype=torch.uint8)
    n = math.prod(shape)
    data = raw[: n * dtype.itemsize].view(dtype) if dtype != torch.bool else raw[:n] % 2 == 1
    return data.reshape(shape)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=True)
    | st.text(max_size=8) | tensors(),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


def _bytes(t: torch.Tensor) -> bytes:
    return bytes(t.reshape(-1).view(torch.uint8).tolist()) if t.dtype != torch.bool else bytes(t.reshape(-1).tolist())


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return (isinstance(b, TensorValue) and b.tensor.dtype == a.dtype and b.tensor.shape == a.shape
                and _bytes(b.tensor) == _bytes(a))
    if isinstance(a, float):
        return type(b) is float and struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(  # type: ignore[arg-type]
            _same(x, y) for x, y in zip(a, b, strict=True)  # type: ignore[call-overload]
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@FUZZ
@given(values)
def test_round_trip_property(value: object) -> None:
    for lenient in (False, True):
        (frame,), fault = decode_frames(encode_frame("r", {"v": value}, lenient=lenient))
        assert fault is None
        assert _same(value, frame.body["v"])


def test_lenient_encoder_rolls_back_an_oversized_value() -> None:
    x = torch.arange(3.0)
    deep: object = [x * 2]
    for _ in range(40):
        deep = [deep]
    (frame,), fault = decode_frames(encode_frame("reply", {"value": x, "deep": deep, "after": (x,)}, lenient=True))
    assert fault is None
    value, after, too_deep = frame.body["value"], frame.body["after"], frame.body["deep"]
    assert isinstance(value, TensorValue)
    assert torch.equal(value.tensor, x)
    assert isinstance(after, tuple)
    assert after[0] is value  # still the same object: the rollback kept the earlier tensor
    assert isinstance(too_deep, Opaque)
    assert "nesting deeper" in too_deep.repr
    with pytest.raises(ValueError, match="deeper than"):
        encode_frame("request", {"args": (deep,)})


def test_tuple_subclasses_are_sent_as_tuples_whatever_they_claim() -> None:
    """A NamedTuple result is a tuple (its values, not an opaque object); a subclass that overrides
    __iter__/__len__ is read through tuple's own C methods, so it cannot change what is sent."""
    from typing import NamedTuple

    class Result(NamedTuple):
        param: torch.Tensor
        velocity: torch.Tensor

    class Liar(tuple):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter([1, 2, 3])

        def __len__(self) -> int:
            return 3

    class Listy(list):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("never called")

    x = torch.ones(2)
    (frame,), fault = decode_frames(encode_frame("reply", {"r": Result(x, 2 * x), "l": Liar((7,)),
                                                           "s": Listy([4, 5])}, lenient=True))
    assert fault is None
    param, velocity = frame.body["r"]  # type: ignore[misc]
    assert torch.equal(param.tensor, x)
    assert torch.equal(velocity.tensor, 2 * x)
    assert frame.body["l"] == (7,)
    assert frame.body["s"] == [4, 5]


def test_non_contiguous_tensors_reach_the_worker_with_their_strides() -> None:
    """The trusted side sends a transposed view or a strided slice as such; the worker rebuilds the layout."""
    transposed = torch.arange(6.0, dtype=torch.float64).reshape(3, 2).t()
    sliced = torch.arange(10.0)[::2]
    reader = FrameReader(max_bytes=1 << 20, as_tensor_values=False)
    (frame,) = reader.feed(encode_frame("request", {"args": (transposed, sliced, torch.ones(3))}))
    got_t, got_s, plain = frame.body["args"]  # type: ignore[misc]
    assert torch.equal(got_t, transposed)
    assert got_t.stride() == transposed.stride()
    assert torch.equal(got_s, sliced)
    assert got_s.stride() == (2,)
    assert plain.is_contiguous()
    with pytest.raises(RuntimeError):
        got_t.view(-1)  # as in the student's own training loop
    (trusted,), fault = decode_frames(encode_frame("request", {"x": transposed}))
    assert fault is None
    assert torch.equal(trusted.body["x"].tensor, transposed)


@pytest.mark.parametrize(("strides", "fault"), [
    ([1, 1], "overlap"),  # two dimensions over the same memory: a write to one is a write to the other
    ([0, 1], "overlap"),
    ([1000, 1], "span"),  # far more memory than elements
    ([1], "list of 2"),
    ([1, -1], "list of 2"),
    ("1,2", "list of 2"),
])
def test_bad_strides_are_faults(strides: object, fault: str) -> None:
    spec = {**_spec(shape=[2, 3]), "strides": strides}
    reader = FrameReader(max_bytes=1 << 20, as_tensor_values=False)
    reader.feed(_frame({"kind": "request", "body": {"x": {"T": 0}}, "tensors": [spec]}, bytes(48)))
    assert reader.fault is not None
    assert fault in reader.fault, reader.fault


# ---------------------------------------------------------- templates: a frame decoded once, copied per use


def _worker_view(value: object) -> object:
    """What a worker's decoder makes of ``value`` (for comparing a template's copies with it)."""
    reader = FrameReader(max_bytes=1 << 24, as_tensor_values=False)
    (frame,) = reader.feed(encode_frame("request", {"v": value}))
    return frame.body["v"]


def _identical(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and a.stride() == b.stride() and a.requires_grad == b.requires_grad and a.device == b.device
                and _bytes(a.detach()) == _bytes(b.detach()))
    if isinstance(a, GradFn):
        return isinstance(b, GradFn) and a.objective == b.objective and _identical(dict(a.params), dict(b.params))
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(  # type: ignore[arg-type]
            _identical(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[call-overload]
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return type(b) is float and struct.pack("<d", a) == struct.pack("<d", b)
    return type(a) is type(b) and a == b


@FUZZ
@given(values)
def test_a_template_copy_is_what_the_frame_would_decode_to(value: object) -> None:
    templates = Templates(encode_frame("request", {"v": value}))
    first, second = (templates.instantiate(0).body["v"] for _ in range(2))
    assert _identical(_worker_view(value), first)
    assert _identical(first, second)


def test_template_copies_are_fresh_and_keep_layout_grad_and_aliasing() -> None:
    x = torch.arange(6.0, dtype=torch.float64).reshape(3, 2).t()
    p = torch.ones(3, requires_grad=True)
    body = {"args": (x, x, p, [1, 2], GradFn("quadratic", {"a": torch.ones(2), "c": torch.zeros(2)}))}
    templates = Templates(encode_frame("request", body) + encode_frame("request", {"args": ()}))
    assert len(templates) == 2
    one, two = templates.instantiate(0).body["args"], templates.instantiate(0).body["args"]
    assert one[0] is one[1]  # sent twice, one object: aliasing survives as in a decoded frame
    assert one[0].stride() == x.stride()
    assert torch.equal(one[0], x)
    assert one[2].requires_grad
    assert one[2].is_leaf
    one[0].add_(1)  # a student that writes to its input changes only its own copy
    one[3].append(3)
    one[4].params["a"].mul_(5)
    assert torch.equal(two[0], x)
    assert two[3] == [1, 2]
    assert torch.equal(two[4].params["a"], torch.ones(2))
    assert torch.equal(templates.instantiate(0).body["args"][0], x)
    with pytest.raises(WireError, match="out of range"):
        templates.instantiate(2)


def test_templates_refuse_a_damaged_blob() -> None:
    blob = encode_frame("request", {"args": (torch.ones(2),)})
    with pytest.raises(WireError):
        Templates(blob[:-3])
