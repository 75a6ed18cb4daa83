#!/usr/bin/env python3
"""fake_s3.py: a tiny in-memory S3 endpoint that injects the faults a real
server cannot be made to produce on demand.  For the repository tests only.

The first segment of the object key picks the behaviour:
  flaky/...     each request answers 503 SlowDown twice, then works
  broken/...    every request answers 500 InternalError
  resetget/...  the first GET sends half the body and resets the connection;
                later GETs honour Range, so a client can resume
  resetput/...  every upload of a multipart part is reset mid-body
  ...x500...    (a key that contains "x500" anywhere): every GET and HEAD
                answers 500 InternalError (it can be written, never read)
  ...unlisted... (a key that contains "unlisted"): works, but is left out
                of every listing (a listing that misses a key)
  ...lostack.../manifest.json: a PUT stores the object, then answers 500
                (a write that landed although its writer saw it fail)
  anything else works normally (PUT, GET with Range, HEAD, DELETE,
  multipart initiate/part/complete/abort, ListObjectsV2 without paging)

ListObjectsV2 with a prefix that starts with
  looptoken/    answers every page truncated and empty, with the same
                NextContinuationToken (a server that repeats itself)
  loopkeys/     answers every page truncated with a new token but the same
                key (the listing never moves forward)

Usage: fake_s3.py PORT LOGFILE; every request is logged as
"METHOD PATH STATUS" to LOGFILE.  It checks no signature.
"""
import http.server
import socket
import struct
import sys
import threading
import urllib.parse
import uuid

objects = {}
uploads = {}
attempts = {}
lock = threading.Lock()
LOG = None


def log(line):
    with lock:
        LOG.write(line + "\n")
        LOG.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def parse(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        return bucket, key, q

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def send(self, code, data=b"", headers=None, method=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)
        log("%s %s %d" % (self.command, self.path, code))

    def error(self, code, s3code, msg="fault injected"):
        xml = ("<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>%s"
               "</Message></Error>" % (s3code, msg)).encode()
        self.send(code, xml, {"Content-Type": "application/xml"}, self.command)

    def reset(self):
        log("%s %s RESET" % (self.command, self.path))
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def fault(self, key):
        """Returns True when a fault answered the request."""
        mode = key.split("/", 1)[0]
        if mode == "flaky":
            with lock:
                n = attempts.get((self.command, self.path), 0)
                attempts[(self.command, self.path)] = n + 1
            if n < 2:
                self.body()
                self.error(503, "SlowDown", "please reduce your request rate")
                return True
        if mode == "broken" or ("x500" in key and self.command in ("GET", "HEAD")):
            self.body()
            self.error(500, "InternalError")
            return True
        return False

    def do_GET(self):
        bucket, key, q = self.parse()
        if not key:
            pre = q.get("prefix", "")
            if pre.startswith("looptoken/") or pre.startswith("loopkeys/"):
                n = int(q.get("continuation-token", "0") or "0")
                same = pre.startswith("looptoken/")
                items = "" if same else (
                    "<Contents><Key>%sa</Key><Size>1</Size></Contents>" % pre)
                xml = ("<ListBucketResult><IsTruncated>true</IsTruncated>%s"
                       "<NextContinuationToken>%s</NextContinuationToken>"
                       "</ListBucketResult>"
                       % (items, "7" if same else str(n + 1))).encode()
                return self.send(200, xml)
            items = "".join("<Contents><Key>%s</Key><Size>%d</Size></Contents>"
                            % (k, len(v)) for k, v in sorted(objects.items())
                            if k.startswith(pre) and "unlisted" not in k)
            xml = ("<ListBucketResult><IsTruncated>false</IsTruncated>%s"
                   "</ListBucketResult>" % items).encode()
            return self.send(200, xml)
        if self.fault(key):
            return
        if key not in objects:
            return self.error(404, "NoSuchKey")
        data = objects[key]
        mode = key.split("/", 1)[0]
        rng = self.headers.get("Range")
        with lock:
            n = attempts.get(("GET", key), 0)
            attempts[("GET", key)] = n + 1
        if mode == "resetget" and n == 0:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            return self.reset()
        if rng:
            a, b = rng.split("=", 1)[1].split("-")
            a = int(a)
            b = int(b) if b else len(data) - 1
            return self.send(206, data[a:b + 1], {
                "Content-Range": "bytes %d-%d/%d" % (a, b, len(data))})
        self.send(200, data)

    def do_HEAD(self):
        bucket, key, q = self.parse()
        if key and self.fault(key):
            return
        if key not in objects:
            return self.send(404, method="HEAD")
        self.send_response(200)
        self.send_header("Content-Length", str(len(objects[key])))
        self.end_headers()
        log("HEAD %s 200" % self.path)

    def do_PUT(self):
        bucket, key, q = self.parse()
        if self.fault(key):
            return
        if "partNumber" in q:
            if key.startswith("resetput/"):
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(min(n // 2, 65536))
                return self.reset()
            data = self.body()
            up = uploads.get(q.get("uploadId"))
            if up is None:
                return self.error(404, "NoSuchUpload")
            up[int(q["partNumber"])] = data
            return self.send(200, headers={"ETag": '"p%s"' % q["partNumber"]})
        objects[key] = self.body()
        if "lostack" in key and key.endswith("manifest.json"):
            # stored, but the answer is lost: the writer cannot know
            return self.error(500, "InternalError")
        self.send(200, headers={"ETag": '"x"'})

    def do_POST(self):
        bucket, key, q = self.parse()
        self.body()
        if self.fault(key):
            return
        if "uploads" in q:
            uid = uuid.uuid4().hex
            uploads[uid] = {}
            return self.send(200, ("<InitiateMultipartUploadResult><Bucket>%s"
                                   "</Bucket><Key>k</Key><UploadId>%s</UploadId>"
                                   "</InitiateMultipartUploadResult>"
                                   % (bucket, uid)).encode())
        up = uploads.pop(q.get("uploadId"), None)
        if up is None:
            return self.error(404, "NoSuchUpload")
        objects[key] = b"".join(up[i] for i in sorted(up))
        self.send(200, b"<CompleteMultipartUploadResult><ETag>\"c\"</ETag>"
                  b"</CompleteMultipartUploadResult>")

    def do_DELETE(self):
        bucket, key, q = self.parse()
        if "uploadId" in q:
            uploads.pop(q["uploadId"], None)
            log("ABORT %s" % key)
            return self.send(204)
        objects.pop(key, None)
        self.send(204)


def main():
    global LOG
    LOG = open(sys.argv[2], "a")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
