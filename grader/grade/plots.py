"""Trajectory plots for the feedback: each optimizer's path on the lecture's elongated bowl, yours and the reference.

The bowl is the suite's quadratic (``bowl_starts`` in grader/suite/hidden/steps.py, the judged
multi-step trajectory), an ellipse like the lecture's "learning rate per parameter" picture::

    f(x) = ½ Σᵢ aᵢ (xᵢ − cᵢ)²,   ∇f(x) = a ⊙ (x − c),   a = (1, 10),  c = (0, 0)

The lecture names w1 as the steep direction; here it is x₂, as in ``bowl_starts``, so the long axis
of the ellipse lies along the plot's width.

From x₀ = START with zero state, each step function takes STEPS steps with the hyperparameters in
SETTINGS (the contract's defaults otherwise).  The student's steps run in the sandbox, in the same job
as that function's tests, as an un-judged ``rollout`` probe (grader/sandbox/drivers.py); the reference
path is the same rollout of ``solutions/`` here.  Plots earn no points.

Rendering: matplotlib (Agg) is imported on first use; each function's background (contours, reference
path, labels) is drawn once per process and only the student's path is drawn per student (blitting),
then encoded as a 64-colour PNG by Pillow: about 6 ms a plot, byte-identical for the same path (and
reused when another student's path is bit-identical).
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch

from grader.grade.report import plain_text
from grader.suite.contract import STEP_FUNCTIONS, StepFunction
from grader.suite.model import Call, GradientFunction, Outcome, TensorOut

VERSION = "1"  # bump when the plots change, so resumed runs redraw them
F64 = torch.float64
BOWL = GradientFunction(torch.tensor([1.0, 10.0], dtype=F64), torch.zeros(2, dtype=F64))
START = (-4.0, 1.5)
STEPS = 40
SETTINGS: dict[str, dict[str, float]] = {
    "sgd_step": {"lr": 0.18},  # zig-zags across the steep axis: |1 − 0.18·10| = 0.8
    "momentum_step": {"lr": 0.03},
    "nesterov_step": {"lr": 0.03},
    "adagrad_step": {"lr": 1.0},
    "rmsprop_step": {"lr": 0.1},
    "adam_step": {"lr": 0.3},
    "adamw_step": {"lr": 0.3, "weight_decay": 0.1},
}
# A point "follows" the reference when ‖x − x_ref‖ ≤ atol + rtol·‖x_ref‖: the tests' float64 tolerance,
# as strict about the parameter as the tests are (a wrong state that gives the same path still follows).
FOLLOW_RTOL, FOLLOW_ATOL = 1e-7, 1e-9
XLIM, YLIM = (-4.6, 4.6), (-2.1, 2.1)
PIXEL = (XLIM[1] - XLIM[0]) / 560  # about one pixel of the plot, in x units
CLIP = 1e6  # Agg misdraws huge coordinates; anything this far is off the plot anyway
SIZE_IN, DPI = (6.4, 3.5), 100
COLOURS = 64
REF_COLOUR, YOUR_COLOUR = "#1f5fbf", "#e8710a"
MAX_NOTE = 110
Points = npt.NDArray[np.float64]  # n × 2, the start first


def hypers(f: StepFunction) -> dict[str, float]:
    return {h.name: SETTINGS.get(f.name, {}).get(h.name, h.default) for h in f.hypers}


def settings(function: str) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in hypers(STEP_FUNCTIONS[function]).items())


def probe(f: StepFunction) -> Call:
    """The rollout of ``f`` for the plot: all hyperparameters positional, zero state, t = 1, 2, …"""
    zeros = torch.zeros(2, dtype=F64)
    ex: dict[str, Any] = {"param": torch.tensor(START, dtype=F64), "grad": BOWL, "a": BOWL.a, "c": BOWL.c, "t": 1,
                          **dict.fromkeys(f.state, zeros), **hypers(f)}
    layout = {
        "param": f.tensors.index("param"),
        "grads": (f.tensors.index("grad"),) if "grad" in f.tensors else (),  # nesterov gets grad_fn itself
        "state": tuple(f.tensors.index(s) for s in f.state),
        "t": len(f.tensors) if f.takes_t else None,
        "steps": STEPS,
    }
    return Call(f.name, f.args(ex), layout, driver="rollout")


def probes() -> list[Call]:
    """One rollout probe per optimizer step function, for ``Suite(probes=...)``."""
    return [probe(f) for f in STEP_FUNCTIONS.values()]


@cache
def reference_path(function: str) -> Points:
    """The reference's (STEPS + 1) × 2 path, start first: the same rollout driver, run on solutions/."""
    from grader.sandbox.drivers import rollout
    from grader.suite.hidden.reference import REFERENCE
    from grader.suite.runners import to_wire

    call = probe(STEP_FUNCTIONS[function])
    out = rollout(REFERENCE[function], tuple(to_wire(a) for a in call.args), dict(call.kwargs))
    if not isinstance(out.value, dict) or out.value["stopped"] is not None:
        raise RuntimeError(f"the reference {function} did not complete its rollout: {out}")
    path = np.stack([np.array(START), *(p.numpy() for p in out.value["path"])])
    path.flags.writeable = False  # cached and shared by every student's plot
    return path


@dataclass(frozen=True)
class Trajectory:
    """One optimizer's two paths (start first) and why the student's ends early, if it does."""

    function: str
    reference: Points
    student: Points
    stopped: str | None = None

    @property
    def leaves_at(self) -> int | None:
        """The first step where the student's point is not the reference's (None: it follows throughout)."""
        n = min(len(self.student), len(self.reference))
        with np.errstate(invalid="ignore", over="ignore"):  # a diverged path: inf and nan are "off"
            gap = np.linalg.norm(self.student[:n] - self.reference[:n], axis=1)
            off = ~(gap <= FOLLOW_ATOL + FOLLOW_RTOL * np.linalg.norm(self.reference[:n], axis=1))
        return int(np.argmax(off)) if off.any() else None

    @property
    def note(self) -> str | None:
        """What the plot says in red: why the student's path is short."""
        if self.stopped is None:
            return None
        done = len(self.student) - 1
        head = "no path" if done == 0 else f"your path stops after step {done}"
        text = f"{head}: {self.stopped}"
        return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"

    @property
    def caption(self) -> str:
        """One paragraph for the feedback, under the plot."""
        where = (f"{self.function} ({settings(self.function)}), {STEPS} steps from x₀ = ({START[0]:g}, {START[1]:g}) "
                 f"with zero state on the lecture's elongated bowl f(x) = ½(x₁² + 10·x₂²)")
        done, k = len(self.student) - 1, self.leaves_at
        if done == 0:
            verdict = "There is no path of yours to draw"
        elif k is None:
            verdict = (f"Your path (orange) follows the reference (blue) at all {done} steps"
                       f"{'' if done == STEPS else ' it took'}")
        else:
            n = min(len(self.student), len(self.reference))
            with np.errstate(invalid="ignore", over="ignore"):
                gaps = np.linalg.norm(self.student[:n] - self.reference[:n], axis=1)
            unseen = "; too small to see in the plot" if bool(np.all(gaps < PIXEL)) else ""
            verdict = f"Your path (orange) leaves the reference (blue) at step {k} (off by {gaps[k]:.3g}{unseen})"
        why = f": {self.stopped}" if self.stopped else ""
        return f"{where}. {verdict}{why}."


def student_path(outcome: Outcome) -> tuple[Points, str | None]:
    """The student's path (start first) from a rollout probe's outcome, and why it ends early.

    The answer came from the worker, where student code ran, so it is checked like any answer.
    """
    start = np.array([START])
    if outcome.problem is not None:
        return start, plain_text(outcome.problem.split("\n", 1)[0])
    value = outcome.returned
    if not isinstance(value, dict) or set(value) != {"path", "stopped"}:
        return start, "the rollout sent back an unreadable answer"
    path, stopped = value["path"], value["stopped"]
    ok = (isinstance(path, list) and len(path) <= STEPS and (stopped is None or isinstance(stopped, str))
          and all(isinstance(p, TensorOut) and p.tensor.shape == (2,) and p.tensor.dtype.is_floating_point
                  for p in path))
    if not ok:
        return start, "the rollout sent back an unreadable answer"
    points = np.stack([start[0], *(p.tensor.double().numpy() for p in path)])
    if stopped is None and len(path) < STEPS:
        stopped = "the rollout ended early"
    return points, None if stopped is None else plain_text(stopped.split("\n", 1)[0])[:300]


def trajectories(probed: Sequence[tuple[Call, Outcome]]) -> dict[str, Trajectory]:
    """One Trajectory per rollout probe, in contract order."""
    out = {}
    for call, outcome in probed:
        if call.driver == "rollout" and call.function in STEP_FUNCTIONS:
            points, stopped = student_path(outcome)
            out[call.function] = Trajectory(call.function, reference_path(call.function), points, stopped)
    return out


def drawable(points: Points) -> Points:
    """The path up to its first non-finite point, clipped to ±CLIP."""
    finite = np.isfinite(points).all(axis=1)
    n = int(np.argmin(finite)) if not finite.all() else len(points)
    return np.clip(points[:n], -CLIP, CLIP)


class _Canvas:
    """One function's figure: the background drawn once, the student's artists drawn per plot."""

    def __init__(self, function: str) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=SIZE_IN, dpi=DPI)
        self.canvas: Any = cast(Any, FigureCanvasAgg(fig))  # Agg's blitting methods are untyped
        ax = self.ax = fig.add_axes((0.085, 0.12, 0.895, 0.75))
        xs, ys = np.linspace(*XLIM, 185), np.linspace(*YLIM, 85)
        x, y = np.meshgrid(xs, ys)
        a = BOWL.a.numpy()
        ax.contour(x, y, 0.5 * (a[0] * x**2 + a[1] * y**2), levels=[0.1, 0.4, 1, 2, 4, 7, 11, 16, 22, 29],
                   colors="#b8b8b8", linewidths=0.7)
        ref = reference_path(function)
        ax.plot(ref[:, 0], ref[:, 1], "-o", color=REF_COLOUR, lw=1.4, ms=4, label="reference")
        self.yours = ax.plot([], [], "--x", color=YOUR_COLOUR, lw=1.3, ms=5.5, mew=1.3, label="yours",
                             animated=True)[0]
        ax.plot(*START, "o", mfc="none", mec="black", ms=7, label="start x₀")
        ax.plot(0, 0, "+", color="black", ms=9, mew=1.4, label="minimum")
        self.note = ax.text(0.01, 0.03, "", transform=ax.transAxes, fontsize=8, color="#a11111", animated=True,
                            parse_math=False, bbox={"facecolor": "white", "edgecolor": "#a11111", "pad": 2})
        ax.set_xlim(*XLIM)
        ax.set_ylim(*YLIM)
        ax.set_xlabel("x₁", labelpad=1)
        ax.set_ylabel("x₂", labelpad=1)
        ax.set_title(f"{function}: {STEPS} steps on the bowl f(x) = ½(x₁² + 10·x₂²)\n{settings(function)}",
                     fontsize=9)
        ax.legend(loc="upper right", fontsize=7.5, framealpha=0.9)
        ax.tick_params(labelsize=8)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)

    def draw(self, t: Trajectory) -> npt.NDArray[np.uint8]:
        """The RGB pixels of the plot for ``t`` (a copy: the canvas is reused)."""
        self.canvas.restore_region(self.background)
        path = drawable(t.student)
        self.yours.set_data(path[:, 0], path[:, 1])
        self.ax.draw_artist(self.yours)
        note = t.note
        if note:
            self.note.set_text(note)  # parse_math=False: a student's "$" is text, not mathtext
            self.ax.draw_artist(self.note)
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


_lock = threading.Lock()  # matplotlib is not thread-safe; grading threads share the canvases
_canvases: dict[str, _Canvas] = {}
# PNGs by exact input: students whose code does the same float operations get bit-identical paths
# (most correct ones); the key is exact, so a hit gives the bytes a fresh render would.
_rendered: OrderedDict[tuple[str, bytes, str | None], bytes] = OrderedDict()
MAX_RENDERED = 512


def render(t: Trajectory) -> bytes:
    """The PNG of one trajectory plot; the same Trajectory gives the same bytes."""
    from PIL import Image

    key = (t.function, np.ascontiguousarray(t.student, dtype=np.float64).tobytes(), t.stopped)
    with _lock:
        if key in _rendered:
            _rendered.move_to_end(key)
            return _rendered[key]
        if t.function not in _canvases:
            _canvases[t.function] = _Canvas(t.function)
        pixels = _canvases[t.function].draw(t)
    # Outside the lock: Pillow releases the GIL while it quantises and compresses.
    image = Image.fromarray(pixels).quantize(COLOURS, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=3)  # no timestamp or software chunk: deterministic bytes
    with _lock:
        _rendered[key] = buf.getvalue()
        if len(_rendered) > MAX_RENDERED:
            _rendered.popitem(last=False)
    return buf.getvalue()


def reset() -> None:
    """Forget the drawn backgrounds and PNGs, as a fresh process would (for tests of determinism)."""
    with _lock:
        _canvases.clear()
        _rendered.clear()


def render_all(probed: Sequence[tuple[Call, Outcome]]) -> dict[str, tuple[Trajectory, bytes]]:
    """Every rollout probe's Trajectory and PNG, by function."""
    return {f: (t, render(t)) for f, t in trajectories(probed).items()}


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def captions(plots: Mapping[str, tuple[Trajectory, bytes]]) -> dict[str, str]:
    return {f: t.caption for f, (t, _) in plots.items()}
