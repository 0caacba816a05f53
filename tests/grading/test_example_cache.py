"""The drawn examples' on-disk cache: same examples as a fresh draw, and nothing but an intact, own,
matching file is ever used."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from grader.sandbox.values import GradFn, Opaque
from grader.sandbox.wire import encode_frame
from grader.suite import example_cache
from grader.suite.engine import Suite
from grader.suite.examples import drawn_for
from grader.suite.model import Example, Property
from grader.suite.registry import suite_properties

COUNT, SEED = 3, 11


@pytest.fixture(scope="module")
def props() -> list[Property]:
    everything = suite_properties()
    by_function: dict[str, Property] = {}
    for p in everything:  # one property per function: tensors, dtypes, ints, floats and bools all occur
        by_function.setdefault(p.function, p)
    return [p for p in by_function.values() if not p.needs_cuda]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OPTIGRADE_CACHE_DIR", str(folder))
    return folder


def counting() -> tuple[list[str], Callable[[Property, int, int], list[Example]]]:
    calls: list[str] = []

    def draw(prop: Property, count: int, seed: int) -> list[Example]:
        calls.append(prop.name)
        return drawn_for(prop, count, seed)

    return calls, draw


def the_file(folder: Path) -> Path:
    (path,) = folder.glob("examples-*.bin")
    return path


def test_a_cached_draw_gives_the_same_suite_bit_for_bit(props: list[Property], cache: Path) -> None:
    calls, draw = counting()
    first = example_cache.load_or_draw(props, COUNT, SEED, draw=draw)
    assert len(calls) == len(props)
    again = example_cache.load_or_draw(props, COUNT, SEED, draw=draw)
    assert len(calls) == len(props)  # read back, not drawn
    fresh = Suite(props, examples_per_property=COUNT, seed=SEED).digest()
    assert Suite(props, examples_per_property=COUNT, seed=SEED, drawn=first).digest() == fresh
    assert Suite(props, examples_per_property=COUNT, seed=SEED, drawn=again).digest() == fresh
    for name in first:  # same types too (a dtype stays a dtype, an int an int)
        for a, b in zip(first[name], again[name], strict=True):
            assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
    mode = the_file(cache).stat().st_mode
    assert mode & 0o077 == 0
    assert cache.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("change", ["seed", "count", "properties", "hypothesis", "sources"])
def test_anything_that_decides_the_draws_changes_the_key(props: list[Property], cache: Path, change: str,
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = example_cache.cache_key(props, COUNT, SEED)
    if change == "seed":
        other = example_cache.cache_key(props, COUNT, SEED + 1)
    elif change == "count":
        other = example_cache.cache_key(props, COUNT + 1, SEED)
    elif change == "properties":
        other = example_cache.cache_key(props[:-1], COUNT, SEED)
    elif change == "hypothesis":
        monkeypatch.setattr(example_cache.hypothesis, "__version__", "0.0.1")
        other = example_cache.cache_key(props, COUNT, SEED)
    else:  # an edited strategy, here in a source folder of its own
        extra = tmp_path / "strategies"
        extra.mkdir()
        (extra / "mine.py").write_text("SIZES = st.integers(1, 6)\n")
        monkeypatch.setattr(example_cache, "SOURCES", (*example_cache.SOURCES, extra))
        key = example_cache.cache_key(props, COUNT, SEED)
        (extra / "mine.py").write_text("SIZES = st.integers(1, 7)\n")
        other = example_cache.cache_key(props, COUNT, SEED)
    assert other != key


def test_a_file_for_another_key_is_redrawn_not_used(props: list[Property], cache: Path) -> None:
    example_cache.load_or_draw(props, COUNT, SEED)
    path = the_file(cache)
    other_key = example_cache.cache_key(props, COUNT, SEED + 1)
    forged = example_cache.pack(other_key, example_cache.load_or_draw(props, COUNT, SEED + 1))
    assert forged is not None
    path.write_bytes(forged)  # the right name, the wrong content: e.g. a file copied from elsewhere
    calls, draw = counting()
    got = example_cache.load_or_draw(props, COUNT, SEED, draw=draw)
    assert len(calls) == len(props)
    assert Suite(props, examples_per_property=COUNT, seed=SEED, drawn=got).digest() == \
        Suite(props, examples_per_property=COUNT, seed=SEED).digest()


def corrupt(kind: str, blob: bytes, key: str, props: list[Property]) -> bytes:
    """A damaged or hostile cache file of each kind."""
    head = len(example_cache.MAGIC) + 32
    if kind == "flipped byte":
        return blob[:-10] + bytes([blob[-10] ^ 1]) + blob[-9:]
    if kind == "truncated":
        return blob[: len(blob) // 2]
    if kind == "empty":
        return b""
    if kind == "pickle":
        import pickle

        return pickle.dumps({"examples": [1, 2, 3]})

    def forge(frames: list[bytes]) -> bytes:  # a valid checksum: only the content can reject it
        import hashlib

        payload = b"".join(frames)
        return example_cache.MAGIC + hashlib.sha256(payload).digest() + payload

    name = props[0].name
    keyed = [encode_frame("key", {"key": key})]
    others = [encode_frame("drawn", {"name": p.name, "examples": []}) for p in props[1:]]
    if kind == "missing property":
        return forge(keyed + others)
    if kind == "duplicate property":
        return forge(keyed + others + others[:1] + [encode_frame("drawn", {"name": name, "examples": []})])
    if kind == "unknown property":
        return forge(keyed + others + [encode_frame("drawn", {"name": "nope", "examples": []})])
    if kind == "too many examples":
        many = [{"x": ["v", 1.0]}] * (COUNT + 1)
        return forge(keyed + others + [encode_frame("drawn", {"name": name, "examples": many})])
    values = {"opaque": Opaque("os.system", "x"), "gradfn": GradFn("quadratic", {"a": torch.ones(1)}),
              "tensor on cuda": torch.ones(2), "unknown tag": 1.0, "unknown dtype": "complex64"}
    tag = {"unknown tag": "exec", "unknown dtype": "dtype"}.get(kind, "v")
    frame = encode_frame("drawn", {"name": name, "examples": [{"x": [tag, values[kind]]}]})
    if kind == "tensor on cuda":
        frame = frame.replace(b'"device":"cpu"', b'"device":"cuda"')
    assert blob[head:]  # (the real file has a payload to stand in for)
    return forge(keyed + others + [frame])


KINDS = ["flipped byte", "truncated", "empty", "pickle", "missing property", "duplicate property",
         "unknown property", "too many examples", "opaque", "gradfn", "tensor on cuda", "unknown tag", "unknown dtype"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_or_hostile_file_is_ignored_and_redrawn(props: list[Property], cache: Path, kind: str) -> None:
    example_cache.load_or_draw(props, COUNT, SEED)
    path = the_file(cache)
    key = example_cache.cache_key(props, COUNT, SEED)
    blob = corrupt(kind, path.read_bytes(), key, props)
    assert example_cache.unpack(blob, key, props, COUNT) is None
    path.write_bytes(blob)
    calls, draw = counting()
    got = example_cache.load_or_draw(props, COUNT, SEED, draw=draw)
    assert len(calls) == len(props)
    assert Suite(props, examples_per_property=COUNT, seed=SEED, drawn=got).digest() == \
        Suite(props, examples_per_property=COUNT, seed=SEED).digest()
    assert example_cache.unpack(path.read_bytes(), key, props, COUNT) is not None  # rewritten intact


@pytest.mark.parametrize("how", ["group-writable", "world-writable", "someone else's", "a symlink"])
def test_a_file_others_could_have_written_is_not_read(props: list[Property], cache: Path, how: str,
                                                      tmp_path: Path) -> None:
    example_cache.load_or_draw(props, COUNT, SEED)
    path = the_file(cache)
    if how == "group-writable":
        path.chmod(0o620)
    elif how == "world-writable":
        path.chmod(0o602)
    elif how == "someone else's":
        if os.geteuid() != 0:
            pytest.skip("giving a file away needs root")
        os.chown(path, 12345, 12345)
    else:
        target = tmp_path / "elsewhere.bin"
        path.rename(target)
        path.symlink_to(target)
    calls, draw = counting()
    example_cache.load_or_draw(props, COUNT, SEED, draw=draw)
    assert len(calls) == len(props)


def test_off_draws_every_time_and_writes_nothing(props: list[Property], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTIGRADE_CACHE_DIR", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert example_cache.cache_dir() is None
    for _ in range(2):
        calls, draw = counting()
        example_cache.load_or_draw(props, COUNT, SEED, draw=draw)
        assert len(calls) == len(props)
    assert not list(tmp_path.rglob("examples-*"))


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPTIGRADE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert example_cache.cache_dir() == tmp_path / "xdg" / "optigrade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert example_cache.cache_dir() == tmp_path / "home" / ".cache" / "optigrade"
    monkeypatch.setenv("OPTIGRADE_CACHE_DIR", str(tmp_path / "mine"))
    assert example_cache.cache_dir() == tmp_path / "mine"


def test_examples_the_format_cannot_carry_are_not_cached(props: list[Property], cache: Path) -> None:
    def odd(prop: Property, count: int, seed: int) -> list[Example]:
        return [{"x": {1, 2}}]  # a set: not a wire value

    got = example_cache.load_or_draw(props, COUNT, SEED, draw=odd)
    assert got[props[0].name] == [{"x": {1, 2}}]
    assert not list(cache.glob("examples-*.bin"))
    assert example_cache.pack("k", {"p": [{"x": torch.ones(2, requires_grad=True)}]}) is None
    assert example_cache.pack("k", {"p": [{"x": torch.ones(2, 2).t()}]}) is None  # not contiguous


def test_an_unwritable_cache_folder_only_costs_the_draw(props: list[Property], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("OPTIGRADE_CACHE_DIR", str(blocked / "cache"))  # under a file: cannot be made
    got = example_cache.load_or_draw(props, COUNT, SEED)
    assert set(got) == {p.name for p in props}


def test_old_files_are_pruned(props: list[Property], cache: Path) -> None:
    for seed in range(example_cache.KEEP_FILES + 2):
        example_cache.load_or_draw(props[:1], 1, seed)
    assert len(list(cache.glob("examples-*.bin"))) == example_cache.KEEP_FILES
    assert not list(cache.glob(".examples-*"))  # no temporary file left behind
