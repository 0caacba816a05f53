#!/usr/bin/env bash
# One run on a GPU machine (no network; its python3 holds a CUDA torch): what the sandbox lacks for CUDA,
# from evidence (grader/sandbox/trace.py), plus the cost of starting CUDA in a worker.
set -u
out=${OUT:-/tmp/gpu-diagnose}; mkdir -p "$out"
py=${PYTHON:-python3}
{
  echo "== machine"; nvidia-smi -L; uname -r; $py -c "import torch,sys; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())"
  ls -la /dev/nvidia* /dev/nvidia-caps 2>&1 | head -20; env | grep -E "^(CUDA|NVIDIA|LD_)" ; id
  $py -c "import torch, os; print(torch.__file__); import ctypes.util; print(ctypes.util.find_library('cuda'))"
  grep -l "libcuda" /proc/self/maps 2>/dev/null; cat /proc/sys/kernel/yama/ptrace_scope 2>&1
} > "$out/machine.txt" 2>&1
$py -m pip install -q --no-deps --no-build-isolation -e . > "$out/install.txt" 2>&1 || tail -5 "$out/install.txt"
timeout 300 $py -m grader.sandbox.trace --device cuda > "$out/trace.txt" 2>&1; echo "trace rc=$?" >> "$out/trace.txt"
timeout 120 $py - > "$out/timing.txt" 2>&1 <<'PY'
import subprocess, sys, tempfile, time, os
from pathlib import Path
t = time.time(); subprocess.run([sys.executable, "-c", "import torch"], check=True); imp = time.time() - t
t = time.time(); subprocess.run([sys.executable, "-c", "import torch; torch.ones(1, device='cuda').add_(1).item()"], check=True)
print(f"fresh process: import torch {imp:.2f} s; import + CUDA start + one op {time.time() - t:.2f} s")
from grader.sandbox import Job, Limits, Request, Sandbox
d = Path(tempfile.mkdtemp()); os.chmod(d, 0o755)
m = d / "m.py"; m.write_text("import torch\ndef f():\n    return float(torch.ones(3, device='cuda').sum().item())\ndef g():\n    return 1.0\n"); os.chmod(m, 0o644)
with Sandbox(device="cuda", unsafe_no_sandbox=True, limits=Limits(wall_s=60)) as box:
    for device, fn in (("cpu", "g"), ("cuda", "f")):
        times = []
        for _ in range(5):
            t = time.time(); r = box.run(Job(m, fn, [Request()], device=device)); times.append(time.time() - t)
        print(device, "unsafe job", r.status, r.detail[:300], r.replies[0].value if r.replies else None, ["%.3f" % x for x in times])
PY
cat "$out"/*.txt
