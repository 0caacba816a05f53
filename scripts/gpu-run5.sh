python3 -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1 || echo "install failed"
export PYTHONUNBUFFERED=1
make gpu-check GPU_PYTHON=python3 > $OUT/gpu-check.txt 2>&1
grep -v "^[.s]*$" $OUT/gpu-check.txt | grep -v "^\[gw\|^== canary (cuda, traced" | tail -60 | cut -c1-500
