#!/usr/bin/env python3
# bench/measure.py: runs one command and prints, as one JSON line on stdout,
# its wall time in seconds, its peak resident set size in KiB and its exit
# status.  The command's own stdout and stderr go to --log (or /dev/null) so
# they never mix with the result line.
#
# Peak RSS is the largest VmHWM (the kernel's high-water mark of one process's
# resident memory) seen in /proc for the command and its descendants, polled
# every 5 ms.  wait4()'s ru_maxrss is not used for it: Linux folds the RSS of
# the forking parent (this Python, ~10 MiB) into a child's ru_maxrss at exec,
# which would put a false floor under small tools.  ru_maxrss is used when it
# is above that floor (our own VmHWM): then it is a real reading, e.g. of a
# short-lived grandchild the polling missed.  Standard library only.
#
#   measure.py [--log FILE] -- CMD [ARG...]

import argparse
import json
import os
import subprocess
import sys
import time

POLL = 0.005
SCAN_EVERY = 20   # a full /proc scan for grandchildren every 100 ms


def vm_hwm(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants(root):
    """Pids below root, from every process's ppid (no /proc/PID/children here)."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
            # comm may hold spaces and parentheses: ppid follows the last ')'
            parent[int(name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    tree.discard(root)
    return tree


def main():
    ap = argparse.ArgumentParser(description="time one command, report peak RSS")
    ap.add_argument("--log", default=os.devnull,
                    help="file that receives the command's stdout and stderr")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")
    peak = {}
    with open(a.log, "ab") as log:
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log)
        except OSError as e:
            print("measure.py: cannot run %s: %s" % (cmd[0], e), file=sys.stderr)
            return 127
        kids, n = set(), 0
        while True:
            # WNOHANG with waitid(WNOWAIT) keeps the child's /proc entry
            # readable until we have taken our last sample of it.
            done = os.waitid(os.P_PID, p.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if n % SCAN_EVERY == 0:
                kids |= descendants(p.pid)
            for pid in {p.pid} | kids:
                hwm = vm_hwm(pid)
                if hwm > peak.get(pid, 0):
                    peak[pid] = hwm
            if done is not None:
                break
            n += 1
            time.sleep(POLL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    p.returncode = 0   # reaped above; keep Popen from waiting again
    rc = os.waitstatus_to_exitcode(status)
    polled = max(peak.values(), default=0)
    floor = vm_hwm(os.getpid())
    best = polled if ru.ru_maxrss <= floor else max(polled, ru.ru_maxrss)
    print(json.dumps({"wall": round(wall, 3), "maxrss_kib": best or ru.ru_maxrss,
                      "rusage_maxrss_kib": ru.ru_maxrss, "status": rc}))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
