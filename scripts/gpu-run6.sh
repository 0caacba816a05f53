python3 -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1 || echo "install failed"
export PYTHONUNBUFFERED=1
timeout 25 python3 -m grader.sandbox.trace --device cuda --variant "writeonly=/proc" --variant "read=/proc;writeonly=/proc" --variant "write=/proc" > $OUT/variants.txt 2>&1
grep "^== canary" $OUT/variants.txt | cut -c1-150
timeout 150 python3 scripts/gpu_check.py > $OUT/gpu-check.txt 2>&1
grep -v "^[.s]*$" $OUT/gpu-check.txt | grep -v "^\[gw\|^== canary (cuda, traced\|Benchmark\|warner" | tail -40 | cut -c1-400
