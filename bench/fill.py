"""fill.py EP MIB: puts MIB MiB of Kubernetes-like values into the etcd at
client URL EP (its JSON gateway), for restore_bench.sh and drill_bench.sh.

48 KiB values: half random, half repetitive JSON, like Kubernetes objects.
"""
import base64, json, os, sys, urllib.request

ep, mib = sys.argv[1], int(sys.argv[2])
n = mib * 1024 // 48
for i in range(n):
    v = base64.b64encode(os.urandom(12 * 1024)).decode() + ('{"k":"v%d"},' % i) * 1600
    body = json.dumps({"key": base64.b64encode(b"/registry/bench/%08d" % i).decode(),
                       "value": base64.b64encode(v[:48 * 1024].encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
