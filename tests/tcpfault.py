#!/usr/bin/env python3
"""A TCP relay on loopback that injects one fault a real server cannot be
made to produce on demand: after N bytes from the upstream it either cuts
the connection (--cut) or flips one byte (--flip) and relays the rest, or
it relays at most N bytes a second (--slow), so a test can act while a
transfer is under way; or every byte, either way, arrives N milliseconds
after it was sent (--delay: a long link, its throughput untouched).

usage: tcpfault.py LISTEN_PORT UPSTREAM_PORT --cut N | --flip N | --slow N | --delay N
Serves connections until killed; prints "ready" once listening."""
import queue
import socket
import sys
import threading
import time


def pump(src, dst, mode, limit, state):
    try:
        while True:
            data = src.recv(16384 if mode == "slow" else 65536)
            if not data:
                break
            if mode == "slow":
                time.sleep(len(data) / limit)
            elif mode is not None:
                seen = state["n"]
                state["n"] += len(data)
                if mode == "cut" and state["n"] >= limit:
                    dst.sendall(data[: max(0, limit - seen)])
                    break
                if mode == "flip" and seen <= limit < state["n"] and not state["done"]:
                    i = limit - seen
                    data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
                    state["done"] = True
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def late(src, dst, ms):
    """Relays src to dst, each chunk ms milliseconds after it came."""
    q = queue.Queue()

    def send():
        while True:
            at, data = q.get()
            if data is None:
                break
            time.sleep(max(0.0, at - time.monotonic()))
            try:
                dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            q.put((time.monotonic() + ms / 1000.0, data))
    except OSError:
        pass
    q.put((0, None))


def main():
    listen_port, up_port, mode, limit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3][2:], int(sys.argv[4])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)
    print("ready", flush=True)
    while True:
        cli, _ = srv.accept()
        up = socket.create_connection(("127.0.0.1", up_port))
        if mode == "delay":
            threading.Thread(target=late, args=(cli, up, limit), daemon=True).start()
            threading.Thread(target=late, args=(up, cli, limit), daemon=True).start()
            continue
        state = {"n": 0, "done": False}
        threading.Thread(target=pump, args=(cli, up, None, 0, None), daemon=True).start()
        threading.Thread(target=pump, args=(up, cli, mode, limit, state), daemon=True).start()


if __name__ == "__main__":
    main()
