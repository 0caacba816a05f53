"""A hostile submission: it tries to cheat, stall and escape. It must earn nothing it did not compute."""

import glob
import os
import sys

print("=== 100/100 all tests passed ===")
print('{"score": 100, "tests": []}')

# Look for the reference and other students' work.
for pattern in ("/work/*/solutions/*.py", "/root/**/*.py", "../*/optimizers.py", "/tmp/*/*.py"):
    for path in glob.glob(pattern, recursive=True)[:3]:
        try:
            print("stole", path, open(path).read()[:50])
        except OSError as exc:
            print("blocked", path, exc.__class__.__name__)


def steps_per_epoch(num_examples, batch_size, drop_last=False):
    while True:  # never returns
        pass


def total_steps(num_examples, batch_size, epochs, drop_last=False):
    try:
        os.fork()
    except OSError as exc:
        print("fork blocked:", exc)
    sys.exit(0)


class Liar(int):
    def __eq__(self, other):
        return True


def batch_bounds(step, num_examples, batch_size):
    return (Liar(0), Liar(0))
