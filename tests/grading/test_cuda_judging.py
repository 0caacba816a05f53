"""The CUDA parity properties' judging, on any machine: the GPU itself is exercised by the tests marked
``cuda`` (they skip with the reason where there is none); here the calls are kept on the CPU and the
answers are labelled with the device a worker would report."""

import pytest

from grader.suite.contract import STEP_FUNCTIONS
from grader.suite.engine import Suite
from grader.suite.examples import examples_for
from grader.suite.hidden import reference, steps
from grader.suite.model import Outcome, TensorOut
from grader.suite.registry import suite_properties

CUDA_PROPS = {p.function: p for p in suite_properties() if p.needs_cuda}


def test_every_tensor_function_has_a_cuda_parity_property() -> None:
    assert set(CUDA_PROPS) == set(STEP_FUNCTIONS)


def _answers(name: str, device: str, *, off: float = 0.0) -> list[tuple[object, Outcome]]:
    prop, f = CUDA_PROPS[name], STEP_FUNCTIONS[name]
    out = []
    for ex in examples_for(prop, 6):
        case = prop.case(ex)
        got = tuple(t.to(ex["dtype"]) + off for t in reference.step(f, ex))  # computed "on the GPU" in its dtype
        returned = tuple(TensorOut(t, device, "torch.Tensor") for t in got)
        out.append((case, Outcome(returned=returned if len(returned) > 1 else returned[0])))
    return out


@pytest.fixture(autouse=True)
def _calls_stay_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "_to_cuda", lambda value: value)


@pytest.mark.parametrize("name", sorted(STEP_FUNCTIONS))
def test_a_correct_answer_left_on_the_gpu_passes(name: str) -> None:
    for case, outcome in _answers(name, "cuda:0"):
        assert CUDA_PROPS[name].judge(case, [outcome]) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(STEP_FUNCTIONS))
def test_an_answer_moved_to_the_cpu_fails_and_says_so(name: str) -> None:
    failures = [CUDA_PROPS[name].judge(case, [o]) for case, o in _answers(name, "cpu")]  # type: ignore[arg-type]
    assert all(f is not None and "came back on cpu" in f.message for f in failures)


def test_a_wrong_answer_on_the_gpu_fails() -> None:
    failures = [CUDA_PROPS["sgd_step"].judge(case, [o]) for case, o in _answers("sgd_step", "cuda:0", off=0.5)]  # type: ignore[arg-type]
    assert all(f is not None for f in failures)


def test_without_cuda_they_are_skipped_with_the_reason_and_not_counted() -> None:
    from grader.grade.report import StudentReport, results_json
    from grader.grade.rubric import load_rubric
    from grader.suite.runners import InProcessRunner
    from tests.grading.conftest import CORRECT

    props = suite_properties()
    suite = Suite(props, examples_per_property=2, cuda=False)
    assert not any(p.name in suite.cases for p in props if p.needs_cuda)  # no CUDA tensor is ever built
    results = suite.grade(InProcessRunner(), {p.stem: p for p in CORRECT.glob("*.py")})
    skipped = [r for r in results if r.status == "skipped"]
    assert {r.prop.name for r in skipped} == {p.name for p in props if p.needs_cuda}
    assert all("no CUDA device" in r.reason for r in skipped)
    points = load_rubric(None, props).property_points(props)
    report = StudentReport("s", "ok", results, points)
    counted = sum(v for name, v in points.items() if name not in {p.name for p in props if p.needs_cuda})
    score, maximum = report.total
    assert score == maximum == pytest.approx(counted, abs=0.02)  # full marks out of the non-CUDA maximum
    tests = results_json(report)["tests"]
    assert all(t["max_score"] == 0 for t in tests if "CUDA" in t["name"])
