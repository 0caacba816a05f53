"""``build_quiz``: files, reproducibility, answers from solutions/, offline MathML handouts, roster errors."""

import json
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
import torch

from quiz_bank import numbers
from quiz_bank.build import BuildResult, build_quiz
from quiz_bank.errors import QuizError
from quiz_bank.kinds import KINDS, ConceptKind
from quiz_bank.roster import parse_roster
from solutions.epochs import steps_per_epoch, total_steps
from solutions.optimizers import adagrad_step, adam_step, bias_correction, momentum_step, rmsprop_step

from .conftest import SEED

KEY_FIELDS = {"student", "question", "template", "params", "answer", "tolerance"}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_outputs(built: BuildResult) -> None:
    names = sorted(p.name for p in built.handouts)
    assert names == [f"handout_B1100{i}.html" for i in range(1, 5)]
    for name in ("answer_key.json", "answer_key.html", "moodle.xml", "canvas_qti.zip"):
        assert (built.out_dir / name).is_file()
    assert built.pdfs == []
    assert "--no-pdf" in built.pdf_note


def test_same_command_gives_byte_identical_output(built: BuildResult, roster_file: Path, tmp_path: Path) -> None:
    again = build_quiz(roster_file, SEED, tmp_path / "again", pdf=False)
    assert _tree(again.out_dir) == _tree(built.out_dir)


def test_another_seed_gives_other_numbers(built: BuildResult, roster_file: Path, tmp_path: Path) -> None:
    other = build_quiz(roster_file, SEED + 1, tmp_path / "other", pdf=False)
    a = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    b = json.loads(other.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    numeric = [(x["params"], y["params"]) for x, y in zip(a, b, strict=True) if x["type"] != "choice"]
    assert sum(p != q for p, q in numeric) > 0.9 * len(numeric)


def test_key_is_a_flat_list_with_the_contract_names(built: BuildResult) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert isinstance(key, list)
    assert len(key) == 4 * sum(len(k.variant(random.Random(0)).items) for k in KINDS.values())
    for entry in key:
        assert set(entry) >= KEY_FIELDS
        assert entry["template"] in KINDS
    by_kind = {e["template"]: e["params"] for e in key}
    assert set(by_kind["bias_correction"]) == {"beta", "t"}
    assert set(by_kind["steps_per_epoch"]) == {"num_examples", "batch_size", "drop_last"}
    assert set(by_kind["total_steps"]) == {"num_examples", "batch_size", "epochs", "drop_last"}
    assert set(by_kind["momentum_update"]) == {"gamma", "lr", "velocity", "grad", "param"}
    assert {"lr", "beta1", "beta2", "eps", "param", "grad"} == set(by_kind["adam_first_step"])
    assert set(by_kind["corrected_first_moment"]) == {"beta1", "t", "grads"}
    assert set(by_kind["adagrad_effective_lr"]) == {"lr", "delta", "t", "grads"}
    assert set(by_kind["rmsprop_accumulator"]) == {"decay", "lr", "delta", "r", "grad", "param"}
    numeric = [e for e in key if e["type"] != "choice"]
    assert all(isinstance(e["answer"], int | float) and isinstance(e["tolerance"], float) for e in numeric)


def test_key_handout_writes_real_minus_signs(built: BuildResult) -> None:
    html = built.key_html.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert re.search(r'class="num">\u2212\d', html)  # −0.4500, as the handouts write it
    assert not re.search(r'class="num">-\d', html)


def _t(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


def _recompute(entry: dict) -> float:  # type: ignore[type-arg]
    """The key's answer straight from solutions/, independently of quiz_bank.kinds."""
    p, part = entry["params"], entry["part"]
    if entry["template"] == "bias_correction":
        return bias_correction(p["beta"], p["t"])
    if entry["template"] == "steps_per_epoch":
        return steps_per_epoch(p["num_examples"], p["batch_size"], p["drop_last"])
    if entry["template"] == "total_steps":
        return total_steps(p["num_examples"], p["batch_size"], p["epochs"], p["drop_last"])
    if entry["template"] == "momentum_update":
        x, v = momentum_step(_t(p["param"]), _t(p["grad"]), _t(p["velocity"]), p["lr"], p["gamma"])
        return float({"v_t": v, "x_next": x}[part])
    if entry["template"] == "rmsprop_accumulator":
        x, r = rmsprop_step(_t(p["param"]), _t(p["grad"]), _t(p["r"]), p["lr"], p["decay"], p["delta"])
        return float({"r_t": r, "x_next": x}[part])
    if entry["template"] == "adagrad_effective_lr":
        x, r = _t(0.0), _t(0.0)
        for g in p["grads"]:
            x, r = adagrad_step(x, _t(g), r, p["lr"], p["delta"])
        return float(r) if part == "r_t" else p["lr"] / (p["delta"] + float(torch.sqrt(r)))
    if entry["template"] == "corrected_first_moment":
        th, m, v = _t(0.0), _t(0.0), _t(0.0)
        for t, g in enumerate(p["grads"], start=1):
            th, m, v = adam_step(th, _t(g), m, v, t, beta1=p["beta1"])
        return float(m) if part == "m_t" else float(m) / bias_correction(p["beta1"], len(p["grads"]))
    assert entry["template"] == "adam_first_step"
    th, m, v = adam_step(_t(p["param"]), _t(p["grad"]), _t(0.0), _t(0.0), 1, p["lr"], p["beta1"], p["beta2"],
                         p["eps"])
    return float({"m_1": m, "v_1": v, "theta_1": th}[part])


def test_answers_come_from_solutions_and_meet_the_rule(built: BuildResult) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    for entry in key:
        if entry["type"] == "choice":
            kind = KINDS[entry["template"]]
            assert isinstance(kind, ConceptKind)
            assert entry["answer"] == "ABCD"[entry["options"].index(kind.options[0])]  # the lecture's answer
            continue
        expected = _recompute(entry) * 10 ** entry["scale_exp"]
        assert entry["answer"] == pytest.approx(expected, rel=1e-12), entry
        answer = Decimal(repr(entry["answer"]))
        tol = Decimal(repr(entry["tolerance"]))
        if entry["type"] == "integer":
            assert tol == 0
        else:  # half a unit of the 4th significant figure, from the formula, not from quiz_bank.numbers
            exponent = Decimal(abs(answer)).adjusted()
            assert tol == Decimal(5) * Decimal(10) ** (exponent - 4)
            assert entry["display"] == numbers.plain(numbers.round_sig(answer))


def test_handouts_are_offline_mathml_and_name_the_student(built: BuildResult) -> None:
    key = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    for path in built.handouts:
        html = path.read_text(encoding="utf-8")
        student = path.stem.removeprefix("handout_")
        assert student in html
        assert "<math" in html
        assert "<mfrac>" in html
        assert "\\(" not in html
        assert "\\[" not in html
        assert not re.search(r"<script|<link|https?://", html)  # no CDN, nothing fetched
        assert "0.0000000" not in html  # δ is shown as 10^{-7}, not a string of zeros
        for entry in (e for e in key if e["student"] == student):
            assert f">{entry['question']}<" in html
        assert re.search(r"[\u4e00-\u9fff]", html)  # the lecture's language by default


def test_english_handout_and_kind_subset(roster_file: Path, tmp_path: Path) -> None:
    result = build_quiz(roster_file, SEED, tmp_path, lang="en", kinds=["steps_per_epoch", "bias_correction"],
                        pdf=False)
    html = result.handouts[0].read_text(encoding="utf-8")
    assert "How many steps does 1 epoch have?" in html
    assert "4 significant figures" in html
    key = json.loads(result.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert [e["template"] for e in key[:2]] == ["steps_per_epoch", "bias_correction"]
    assert [e["question"] for e in key[:2]] == ["Q1", "Q2"]


def test_kind_ids_keep_numbers_stable(roster_file: Path, tmp_path: Path, built: BuildResult) -> None:
    """A student's variant of a kind does not change when other kinds are added or removed."""
    subset = build_quiz(roster_file, SEED, tmp_path, kinds=["total_steps"], pdf=False)
    full = json.loads(built.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    part = json.loads(subset.key_json.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert [e["params"] for e in part] == [e["params"] for e in full if e["template"] == "total_steps"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,name\nB1,x\n", "missing: student_id"),
        ("student_id,name\nB1,Amy\n,Ben\n", "line 3: student_id is empty"),
        ("student_id,name\nB1,Amy\nB1,Ben\n", "line 3: student_id 'B1' already appears on line 2"),
        # one handout file on macOS/Windows, one student for grading
        ("student_id,name\nB1,Amy\nb1,Ben\n", "line 3: student_id 'b1' already appears on line 2 (as 'B1'"),
        ("student_id,name\n../etc,Amy\n", "not usable as a file name"),
        ("student_id,name\n", "no students found"),
        ("student_id,name,email\nB1,Chen, Alice,a@b\n", "line 2 has 4 fields but the header names 3"),
    ],
)
def test_roster_errors_name_the_line_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(QuizError, match=re.escape(message)) as info:
        parse_roster(text, "roster.csv")
    assert "Fix:" in str(info.value)


def test_roster_accepts_bom_and_extra_columns() -> None:
    students = parse_roster("\ufeffstudent_id,name,email\nB1,王小明,a@b\n\nB2,,c@d\n")
    assert [(s.id, s.name) for s in students] == [("B1", "王小明"), ("B2", "B2")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("學號,姓名,電子郵件\nB1,王小明,a@b\n", [("B1", "王小明")]),  # an Excel class list from the registrar
        ("\ufeff 學號 ,學生姓名\nB1,王小明\n", [("B1", "王小明")]),
        ("帳號,中文姓名,英文姓名\nB1,王小明,Wang\n", [("B1", "王小明")]),  # an LMS account export
        ("Student ID,Name\nB1,Amy\n", [("B1", "Amy")]),
        ("帳號,學號,姓名\nb1@uni.edu,B1,王小明\n", [("B1", "王小明")]),  # 學號 before 帳號
        ("student_id,學號,name,姓名\nB1,X9,Amy,艾咪\n", [("B1", "Amy")]),  # the own names first: as before
    ],
)
def test_roster_accepts_chinese_headers(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(s.id, s.name) for s in parse_roster(text)] == expected


def test_an_unknown_roster_header_names_the_accepted_ones() -> None:
    with pytest.raises(QuizError) as info:
        parse_roster("編號,名稱\nB1,Amy\n", "roster.csv")
    message = str(info.value)
    assert "expected the columns student_id,name (missing: student_id, name)" in message
    assert "student_id also as 學號" in message
    assert "name also as 姓名" in message
    assert "Fix: make line 1 'student_id,name'" in message


def test_a_name_with_an_unquoted_comma_is_kept_whole() -> None:
    """Chen, Alice typed without quotes: the CSV splits it; the handout must not say just "Chen"."""
    students = parse_roster("student_id,name\nB1,Chen, Alice\nB2,Wu,\n")
    assert [(s.id, s.name) for s in students] == [("B1", "Chen, Alice"), ("B2", "Wu")]


def test_bad_options_raise_quiz_errors(roster_file: Path, tmp_path: Path) -> None:
    with pytest.raises(QuizError, match="--lang: 'fr'"):
        build_quiz(roster_file, 1, tmp_path, lang="fr", pdf=False)
    with pytest.raises(QuizError, match="unknown kind"):
        build_quiz(roster_file, 1, tmp_path, kinds=["adam"], pdf=False)
    with pytest.raises(QuizError, match="does not exist"):
        build_quiz(tmp_path / "missing.csv", 1, tmp_path, pdf=False)


def test_stale_handouts_are_removed(roster_file: Path, tmp_path: Path) -> None:
    (tmp_path / "handouts").mkdir()
    (tmp_path / "handouts" / "handout_GONE.html").write_text("old")
    build_quiz(roster_file, 1, tmp_path, kinds=["bias_correction"], pdf=False)
    assert not (tmp_path / "handouts" / "handout_GONE.html").exists()


def test_names_are_escaped(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text('student_id,name\nB9,"<b>Eve & Co</b>"\n', encoding="utf-8")
    result = build_quiz(roster, 1, tmp_path / "o", kinds=["bias_correction"], pdf=False)
    html = result.handouts[0].read_text(encoding="utf-8")
    assert "&lt;b&gt;Eve &amp; Co&lt;/b&gt;" in html
    assert "<b>Eve" not in html


def test_roster_saved_by_excel_as_big5_is_read(tmp_path: Path) -> None:
    from quiz_bank.roster import read_roster

    path = tmp_path / "big5.csv"
    path.write_bytes("Student_ID, Name\nB1,王小明\n".encode("cp950"))
    assert [(s.id, s.name) for s in read_roster(path)] == [("B1", "王小明")]
    path.write_bytes(b"student_id,name\nB1,\xff\xfe\xff\n")
    with pytest.raises(QuizError, match="neither UTF-8 nor Big5"):
        read_roster(path)
