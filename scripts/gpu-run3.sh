set -u
python3 -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1 || echo "install failed"
export PYTHONUNBUFFERED=1
make gpu-check GPU_PYTHON=python3 > $OUT/gpu-check.txt 2>&1
grep -v "^[.s]*$" $OUT/gpu-check.txt | grep -v "^\[gw" | tail -80 | cut -c1-600
timeout 60 python3 -m grader.sandbox.trace --device cuda --variant "nosyscall=socket(AF_UNIX, SOCK_SEQPACKET)" \
  --variant "noread=/proc/sys/vm/mmap_min_addr" --variant "write=/dev/shm" > $OUT/variants.txt 2>&1
grep "^== canary\|detail\|unix sockets\|Landlock would\|seccomp would\|   [ 0-9]* × " $OUT/variants.txt | head -60 | cut -c1-400
