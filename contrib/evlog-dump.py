#!/usr/bin/env python3
"""evlog-dump.py: prints a lifeboat event log segment as JSON lines, one
per record, checking every CRC and the footer's sha256 on the way.  A
break-glass reader of the format the README documents ("The event log
format"), written apart from lifeboat's own and using nothing but
Python's standard library:

    age -d -i identity.txt OBJ.evlog.zst.age | zstd -d | python3 evlog-dump.py

Keys and values are printed as UTF-8 where they are, else as base64 with
a "b64:" prefix.  Exits 1 on the first record that fails a check.
"""
import base64
import hashlib
import json
import struct
import sys

TYPES = {1: "header", 2: "revision", 3: "lease", 4: "footer"}
NAMES = {
    1: {1: "version", 2: "cluster", 3: "cluster_id", 4: "first_rev", 5: "prev_sha256",
        6: "created_ms", 7: "lifeboat_version"},
    2: {1: "revision", 2: "wall_time_ms", 3: "events"},
    3: {1: "id", 2: "ttl"},
    4: {1: "first_rev", 2: "last_rev", 3: "revisions", 4: "events", 5: "first_time_ms",
        6: "last_time_ms", 7: "sha256", 8: "leases"},
}
EVENT = {1: "type", 2: "key", 3: "value", 4: "create_revision", 5: "mod_revision",
         6: "version", 7: "lease"}


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fields(buf):
    """protobuf wire format: (number, int or bytes) pairs."""
    i = 0

    def varint():
        nonlocal i
        v = s = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << s
            s += 7
            if b < 0x80:
                return v
    while i < len(buf):
        key = varint()
        if key & 7 == 0:
            yield key >> 3, varint()
        elif key & 7 == 2:
            n = varint()
            yield key >> 3, buf[i:i + n]
            i += n
        else:
            raise ValueError("wire type %d" % (key & 7))


def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def show(v):
    if isinstance(v, int):
        return signed(v)
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        return "b64:" + base64.b64encode(v).decode()


def main():
    data = sys.stdin.buffer.read()
    off = 0
    sha = hashlib.sha256()
    while off < len(data):
        rtype, n = struct.unpack_from("<BI", data, off)
        payload = data[off + 5:off + 5 + n]
        (crc,) = struct.unpack_from("<I", data, off + 5 + n)
        if crc != crc32c(data[off:off + 5 + n]):
            sys.exit("evlog-dump: record at byte %d: crc mismatch" % off)
        rec = {"record": TYPES.get(rtype, rtype)}
        if rtype < 128:
            for num, v in fields(payload):
                name = NAMES.get(rtype, {}).get(num, str(num))
                if rtype == 2 and num == 3:
                    ev = {EVENT.get(k, str(k)): show(x) for k, x in fields(v)}
                    ev["type"] = "DELETE" if ev.get("type") == 1 else "PUT"
                    rec.setdefault("events", []).append(ev)
                elif name in ("prev_sha256", "sha256"):
                    rec[name] = v.hex()
                else:
                    rec[name] = show(v)
        if rtype == 4:
            if bytes.fromhex(rec.get("sha256", "")) != sha.digest():
                sys.exit("evlog-dump: footer at byte %d: sha256 mismatch" % off)
        else:
            sha.update(data[off:off + 9 + n])
        print(json.dumps(rec, sort_keys=True))
        off += 9 + n
    return 0


if __name__ == "__main__":
    sys.exit(main())
