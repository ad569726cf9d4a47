#!/usr/bin/python3
"""Faults on a body, for tests: fault.py SERVER_ID crash|hang|slow K|5xx|clear

crash: the process is killed (SIGKILL); its port refuses until Nova reboots the server.
hang:  the process is stopped (SIGSTOP); connections are accepted by the kernel, requests time out.
slow K: every request takes K times its service time (a gray failure).
5xx:   every request is answered 503.
clear: no fault (a hung process continues).
A reboot or rebuild of the server through Nova clears every fault (watcher.py)."""
import os
import signal
import sys

LAB = os.environ.get("LAB_DIR", "/tmp/sloop-lab")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    sid, what = argv[0], argv[1:]
    d = os.path.join(LAB, "bodies", sid)
    if not os.path.isdir(d):
        raise SystemExit(f"no body for server {sid} under {d}")

    def pid():
        try:
            return int(open(os.path.join(d, "pid")).read())
        except FileNotFoundError:
            raise SystemExit(f"server {sid}: its body is not running")

    def write(text):
        tmp = os.path.join(d, "fault.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(d, "fault"))

    if what == ["crash"]:
        os.kill(pid(), signal.SIGKILL)
    elif what == ["hang"]:
        os.kill(pid(), signal.SIGSTOP)
    elif what[0] == "slow" and len(what) == 2:
        write(f"slow {float(what[1])}\n")
    elif what == ["5xx"]:
        write("5xx\n")
    elif what == ["clear"]:
        write("")
        try:
            os.kill(pid(), signal.SIGCONT)
        except SystemExit:
            pass
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
