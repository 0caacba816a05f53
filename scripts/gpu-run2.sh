set -u
python3 -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1 || echo "install failed"
export PYTHONUNBUFFERED=1
make gpu-check GPU_PYTHON=python3 2>&1 | tee $OUT/gpu-check.txt | grep -v "^\.\|passed\|skipped" | tail -60
timeout 100 python3 -m grader.sandbox.trace --device cuda --variant "noread=/proc/sys/vm/mmap_min_addr" \
  --variant "nosyscall=socket(AF_UNIX, SOCK_SEQPACKET)" > $OUT/variants.txt 2>&1
cat $OUT/variants.txt | cut -c1-400
