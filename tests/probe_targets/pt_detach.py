"""Probe targets that leave processes behind or need memory: a job runner that starts a helper
in its own session, a daemon that double-forks away from it, and a loader that allocates."""
import os
import subprocess
import sys
import time


def _note(folder, what, pid):
    with open(os.path.join(folder, "%s-%d" % (what, pid)), "w") as f:
        f.write(str(pid))


def start_helpers_and_wait(folder):
    """Start a helper with start_new_session=True and a double-forked daemon, then hang."""
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                              start_new_session=True)
    _note(folder, "helper", helper.pid)
    child = os.fork()
    if child == 0:
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            _note(folder, "daemon", os.getpid())
            time.sleep(600)
            os._exit(0)
        os._exit(0)
    os.waitpid(child, 0)
    while len(os.listdir(folder)) < 2:
        time.sleep(0.01)
    _note(folder, "ready", os.getpid())
    time.sleep(600)


def load_table(megabytes):
    """Read a table into memory (a bytearray of that size) and return its size."""
    table = bytearray(megabytes * 1024 * 1024)
    return len(table)
