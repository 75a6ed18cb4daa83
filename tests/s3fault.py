#!/usr/bin/env python3
"""s3fault.py: an HTTP relay in front of a real S3 server (s3rver) that
injects, per request, the faults a real server cannot be made to produce on
demand: a 503 SlowDown, a connection reset before the request reaches the
server, or a reset after the server has done the request (its answer lost
on the way back: the write happened, the client cannot know).

usage: s3fault.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE
Prints "ready" once listening.  CONTROL_FILE is read at every request; a
missing or empty file means no faults.  It is JSON:
  {"p503": 0.1, "preset": 0.05, "plost": 0.05,   probabilities per request
   "match": "manifest.json", "method": "PUT",     optional: only such requests
   "seed": 1,
   "delay_ms": 50}                                 latency added to every request
Every fault is logged to stdout as "FAULT KIND METHOD PATH"; every new peak
of requests under way at once as "PEAK N METHOD PATH"."""
import http.client
import http.server
import json
import random
import socket
import struct
import sys
import threading
import time

UPSTREAM = None
CONTROL = None
rng = random.Random()
lock = threading.Lock()
inflight = [0, 0]   # now, peak


def control():
    try:
        with open(CONTROL) as f:
            text = f.read().strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def pick(c, method, path):
    if c.get("method") and c["method"] != method:
        return None
    if c.get("match") and c["match"] not in path:
        return None
    with lock:
        x = rng.random()
    for kind in ("p503", "preset", "plost"):
        p = float(c.get(kind, 0))
        if x < p:
            return kind[1:]
        x -= p
    return None


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def relay(self):
        with lock:
            inflight[0] += 1
            if inflight[0] > inflight[1]:
                inflight[1] = inflight[0]
                print("PEAK %d %s %s" % (inflight[1], self.command, self.path), flush=True)
        try:
            self.relay1()
        finally:
            with lock:
                inflight[0] -= 1

    def relay1(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = control()
        if c.get("delay_ms"):
            # a store far away: the answer comes that much later
            time.sleep(float(c["delay_ms"]) / 1000)
        fault = pick(c, self.command, self.path)
        if fault:
            print("FAULT %s %s %s" % (fault, self.command, self.path), flush=True)
        if fault == "503":
            msg = (b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
                   b"<Message>injected</Message></Error>")
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if fault == "reset":
            self.reset()
            return
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=120)
        hdrs = {k: v for k, v in self.headers.items()}
        up.request(self.command, self.path, body=body, headers=hdrs)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        if fault == "lost":
            self.reset()
            return
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


def main():
    global UPSTREAM, CONTROL
    listen, UPSTREAM, CONTROL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    seed = control().get("seed")
    if seed is not None:
        rng.seed(seed)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", listen), Relay)
    srv.daemon_threads = True
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
