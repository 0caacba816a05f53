python3 -m pip install -q --no-deps --no-build-isolation -e . > /dev/null 2>&1 || echo "install failed"
timeout 120 python3 -m grader.sandbox.trace --device cuda --variant "scopes=none" --variant "scopes=signal" --variant "scopes=socket" \
  --variant "read=/" --variant "read=/;write=/" --variant "read=/;write=/;device=/dev" --variant "read=/proc" \
  --variant "read=/proc;write=/proc" --variant "device=/dev" --variant "write=/tmp" --variant "read=/dev" \
  --variant "read=/;write=/;device=/dev;scopes=none" > $OUT/variants.txt 2>&1
grep "^== canary" $OUT/variants.txt | cut -c1-200
