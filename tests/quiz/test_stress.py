"""Generators over 1,000 seeds: never a degenerate variant, always varied, always reproducible.

The checks here are independent of the kinds' own ``problems()``: they recompute
from the answer key's point of view what a student would see.
"""

import re
from collections import Counter
from decimal import Decimal

import pytest

from quiz_bank import numbers
from quiz_bank.kinds import KINDS, ChoiceItem, ConceptKind, NumericItem, Variant, student_rng
from quiz_bank.render import render_question
from solutions.epochs import steps_per_epoch

SEEDS = range(1000)
NUMERIC = [k for k in KINDS.values() if not isinstance(k, ConceptKind)]
CONCEPTS = [k for k in KINDS.values() if isinstance(k, ConceptKind)]
# A short decimal, 10^{-k}, a list of short decimals, or a count with thousands separators.
SHOWN_NUMBER = re.compile(r"^-?\d{1,7}(\.\d{1,4})?$|^10\^\{-\d\}$|^-?\d+(\.\d{1,2})?(, -?\d+(\.\d{1,2})?)*$"
                          r"|^\d{1,3}(,\d{3})*$")


def _variants(kind_id: str) -> list[Variant]:
    kind = KINDS[kind_id]
    return [kind.variant(student_rng(seed, f"S{seed:04d}", kind_id)) for seed in SEEDS]


@pytest.fixture(scope="module", params=[k.id for k in NUMERIC])
def numeric_variants(request: pytest.FixtureRequest) -> tuple[str, list[Variant]]:
    return request.param, _variants(request.param)


def test_no_answer_rounds_to_zero_or_one(numeric_variants: tuple[str, list[Variant]]) -> None:
    kind_id, variants = numeric_variants
    for v in variants:
        for item in v.items:
            assert isinstance(item, NumericItem)
            rounded = abs(numbers.round_sig(item.answer))
            assert rounded not in (Decimal(0), Decimal(1)), (kind_id, v.params, item)
            if item.integer:
                assert item.answer >= 2, (kind_id, v.params)
            else:  # asked in a form 4 significant figures can hold in 4 decimals
                assert Decimal("0.1") <= rounded < 1000, (kind_id, v.params, item)
                assert not numbers.near_tie(item.answer, False), (kind_id, v.params, item)


def test_given_values_show_without_float_noise(numeric_variants: tuple[str, list[Variant]]) -> None:
    kind_id, variants = numeric_variants
    for v in variants:
        for name, shown in KINDS[kind_id].display(v.params).items():
            if name in ("drop_last", "t"):
                continue
            assert SHOWN_NUMBER.match(shown), (kind_id, name, shown)


def test_variants_vary(numeric_variants: tuple[str, list[Variant]]) -> None:
    kind_id, variants = numeric_variants
    distinct = {tuple(str(i.answer) for i in v.items) for v in variants}
    assert len(distinct) > 60, f"{kind_id}: only {len(distinct)} distinct answers over 1,000 students"


@pytest.mark.parametrize("kind_id", ["steps_per_epoch", "total_steps"])
def test_drop_last_readings_always_disagree(kind_id: str) -> None:
    for v in _variants(kind_id):
        n, b = v.params["num_examples"], v.params["batch_size"]
        assert isinstance(n, int)
        assert isinstance(b, int)
        assert steps_per_epoch(n, b, drop_last=True) != steps_per_epoch(n, b, drop_last=False), v.params
    readings = Counter(v.params["drop_last"] for v in _variants(kind_id))
    assert min(readings.values()) > 400, readings  # both readings are asked


@pytest.mark.parametrize("kind", CONCEPTS, ids=lambda k: k.id)
def test_choices_are_shuffled_fairly(kind: ConceptKind) -> None:
    positions: Counter[str] = Counter()
    for v in _variants(kind.id):
        (item,) = v.items
        assert isinstance(item, ChoiceItem)
        assert sorted(item.options) == sorted(kind.options)
        assert item.correct == kind.options[0]
        positions[item.letter] += 1
    assert set(positions) == set("ABCD")
    assert all(150 < n < 350 for n in positions.values()), positions  # 250 ± chance, not a pattern


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
@pytest.mark.parametrize("kind", CONCEPTS, ids=lambda k: k.id)
def test_no_duplicate_options_in_either_language(kind: ConceptKind, lang: str) -> None:
    rendered = render_question(lang, 1, kind, kind.variant(student_rng(0, "x", kind.id)))
    texts = [str(text) for _, text in rendered.options]
    assert len(set(texts)) == len(texts) == 4
    assert all(len(t) >= 8 for t in texts)  # real sentences, not an empty or missing translation


def test_same_seed_and_student_same_variant_other_seed_other_numbers() -> None:
    for kind in KINDS.values():
        a = kind.variant(student_rng(42, "B11201001", kind.id))
        b = kind.variant(student_rng(42, "B11201001", kind.id))
        assert a == b
    changed = sum(
        KINDS["momentum_update"].variant(student_rng(42, f"S{i}", "momentum_update")).params
        != KINDS["momentum_update"].variant(student_rng(43, f"S{i}", "momentum_update")).params
        for i in range(50))
    assert changed >= 48


def _given(params: dict[str, object]) -> set[Decimal]:
    values = [v for value in params.values() for v in (value if isinstance(value, list) else [value])]
    return {numbers.round_sig(Decimal(repr(v))) for v in values
            if isinstance(v, int | float) and not isinstance(v, bool) and v != 0}


def test_no_answer_can_be_copied_from_the_question(numeric_variants: tuple[str, list[Variant]]) -> None:
    """x_{t+1} = x_t, v_t = v_{t-1}, r_t = r_{t-1} or m̂₁ = g₁ would be answers printed in the question."""
    kind_id, variants = numeric_variants
    for v in variants:
        given = _given(v.params)
        for item in v.items:
            assert isinstance(item, NumericItem)
            if not item.integer:
                shown = {numbers.round_sig(item.answer), numbers.round_sig(item.value)}
                assert not shown & given, (kind_id, v.params, item.part, item.display)


def test_asked_forms_read_unambiguously(numeric_variants: tuple[str, list[Variant]]) -> None:
    """A scaled sum is parenthesized: (1 − βᵗ) × 10³."""
    kind_id, variants = numeric_variants
    for v in variants:
        for item in v.items:
            assert isinstance(item, NumericItem)
            top_level = item.symbol
            while (inner := re.sub(r"\{[^{}]*\}", "", top_level)) != top_level:  # drop braced groups
                top_level = inner
            if item.scale_exp and re.search(r" [+-] ", top_level):
                assert item.asked_tex.startswith("("), (kind_id, item.asked_tex)


@pytest.mark.parametrize("kind_id", ["corrected_first_moment", "adagrad_effective_lr"])
def test_gradient_histories_name_their_step(kind_id: str) -> None:
    """The key's params carry t (the contract's name), and the question lists the steps: t = 1, 2, 3."""
    for v in _variants(kind_id)[:100]:
        grads = v.params["grads"]
        assert isinstance(grads, list)
        assert v.params["t"] == len(grads) >= 2
        shown = KINDS[kind_id].display(v.params)
        assert shown["ts"] == ", ".join(str(i) for i in range(1, len(grads) + 1))
