#!/usr/bin/env python3
"""own_rss.py OUT -- CMD [ARG...]: runs CMD with its stdout to OUT and
prints "WALL_SECONDS PEAK_RSS_KIB EXIT" for CMD's own process only (its
VmHWM, polled every 20 ms): the etcd and restore tools a drill or a
restore starts are not counted, unlike bench/measure.py, which counts a
command's descendants.  For drill_bench.sh, pitr_bench.sh and restore_bench.sh."""
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[3:] if sys.argv[2] == "--" else sys.argv[2:]
t = time.monotonic()
p = subprocess.Popen(cmd, stdout=open(out, "w"))
hwm = 0
while p.poll() is None:
    try:
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("VmHWM:"):
                hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
print("%.3f %d %d" % (time.monotonic() - t, hwm, p.returncode))
