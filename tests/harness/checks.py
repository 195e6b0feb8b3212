"""Small helpers shared by the integration test scripts: numbered checks that
collect failures instead of stopping at the first, required steps, a free
loopback port, and a bounded poll."""
import socket
import time

failures = []


def check(cond, what):
    """Prints ok/FAIL with what; remembers a failure; returns cond."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def must(cond, what):
    """A check the rest of the test depends on: raises RuntimeError when it fails."""
    if not check(cond, what):
        raise RuntimeError("required step failed: " + what)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(pred, seconds, step=0.1):
    """pred() until it is true or seconds have passed; returns its last value."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
