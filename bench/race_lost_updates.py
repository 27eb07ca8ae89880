"""How many updates the unlocked counter of examples/probe/race.py loses, per interpreter.

    python bench/race_lost_updates.py [PYTHON ...]     # default: this interpreter; 5 runs each

The number depends on the thread scheduler (the switch interval, the Python version, the load of
the machine): it is a measurement, not a test (tests/test_probe_seeds.py checks only that the
locked counter never loses one). Prints one line per interpreter; never fails on the figures.
"""
import subprocess
import sys
from pathlib import Path

RACE = Path(__file__).resolve().parent.parent / "examples" / "probe"
RUNS = 5


def main(pythons):
    for python in [str(Path(p).absolute()) if "/" in p else p for p in pythons] or [sys.executable]:
        lost = []
        for _ in range(RUNS):
            out = subprocess.run([python, "race.py"], cwd=str(RACE), capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                print(f"{python}: race.py failed: {out.stderr.strip()[-300:]}")
                break
            unsafe = out.stdout.splitlines()[0]
            lost.append(int(unsafe.rsplit(":", 1)[1].split()[0]))
        else:
            version = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
            print(f"{version}: updates lost without the lock in {RUNS} runs of 2000: {lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
