#!/usr/bin/env python3
"""Linux-side peer programs for dpdk-io/tests/linux_peer.rs.

Run inside the peer's network namespace (`ip netns exec NS python3 peer.py
...`). Every program prints one event per line, flushed at once, so the
test can follow it; servers print "listening on PORT" once they accept.
Errors print their errno name ("ECONNRESET", "EPIPE"), not a message. Every
wait is bounded (--timeout seconds, default 30): a program that waits too
long prints "timeout ..." and exits 3.

  seed-server  --port P --delay-s S [--after-eof close|wait-reset]
      seed 000's server: read a message, sleep S, reply "Hi, <msg>", read
      again, until end of stream or an error, which it prints. Then it
      closes (`close`, the seed's server exiting), or (`wait-reset`) waits
      until an RST has closed the connection (TCP_INFO state CLOSE),
      writes once more and prints that result.
  seed-client  --to IP:PORT --mode close|shutdown --msg TEXT
      seed 000's client: send TEXT; then close (and stay alive), or
      shutdown(SHUT_WR) and read the reply until end of stream.
  echo-client  --to IP:PORT --bytes N
      send N seeded bytes while reading the echo; print whether all came
      back equal.
  echo-rr      --to IP:PORT --size N --count K
      K times: send N bytes, read the N-byte echo (Nagle and delayed ACK
      as Linux sets them by default); print one JSON line with whether
      every echo was equal and the round trips' median and maximum in ms.
  bulk         (--listen PORT | --to IP:PORT) --bytes N [--seed S]
      send N seeded bytes (then SHUT_WR) while reading and hashing
      everything until end of stream; print one JSON line with both
      counts and SHA-256 hashes.
  send-then-read --port P --bytes N
      accept, send N bytes, then read: print what the read ends with.
  ack-then-read  --port P
      accept, read "hello", reply "ok", then read: print what it ends with.
  stall        --port P [--rcvbuf B]
      accept with a small receive buffer, read "hello", reply "ok", then
      read nothing until the connection is closed by the peer (TCP_INFO
      state CLOSE); then read what is buffered and print how it ends.
"""

import argparse
import errno
import hashlib
import json
import socket
import struct
import sys
import threading
import time

TCP_CLOSE = 7


def say(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


def err_name(e):
    if isinstance(e, OSError) and e.errno is not None:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def tcp_state(sock):
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return struct.unpack("B", info[:1])[0]


def wait_closed(sock, timeout):
    """Waits (bounded) until the kernel moved the connection to CLOSE."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if tcp_state(sock) == TCP_CLOSE:
            return True
        time.sleep(0.01)
    return False


def listen(port, rcvbuf=None):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        # Set before listen so the accepted socket inherits it and the
        # window it offers in the handshake.
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    ls.bind(("0.0.0.0", port))
    ls.listen(4)
    return ls


def accept(ls, timeout):
    ls.settimeout(timeout)
    say("listening on", ls.getsockname()[1])
    try:
        conn, peer = ls.accept()
    except socket.timeout:
        say("timeout waiting for a connection")
        sys.exit(3)
    conn.settimeout(timeout)
    say("accepted", "%s:%d" % peer)
    return conn


def connect(to, timeout):
    host, port = to.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    say("connected to", to)
    return s


def stream(seed, n):
    """N bytes of a seeded stream: SHAKE-128 of (seed, block number), in
    64 KiB blocks (fast in C; the same on both sides of nothing else)."""
    block = 0
    while n > 0:
        k = min(n, 65536)
        yield hashlib.shake_128(b"%d:%d" % (seed, block)).digest(k)
        n -= k
        block += 1


def read_end(sock, what="read"):
    """Reads until end of stream or an error; prints and returns how it
    ended: 'eof' or the errno name."""
    total = 0
    while True:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            say("timeout in", what, "after", total, "bytes")
            sys.exit(3)
        except OSError as e:
            say(what, "error:", err_name(e), "after", total, "bytes")
            return err_name(e)
        if not data:
            say(what, "eof after", total, "bytes")
            return "eof"
        total += len(data)


def seed_server(a):
    conn = accept(listen(a.port), a.timeout)
    while True:
        try:
            msg = conn.recv(1024)
        except OSError as e:
            say("read error:", err_name(e))
            break
        if not msg:
            say("client closed")
            break
        say("received %d bytes: %s" % (len(msg), msg.decode(errors="replace")))
        time.sleep(a.delay_s)
        try:
            n = conn.send(b"Hi, " + msg)
            say("send bytes:", n)
        except OSError as e:
            say("write error:", err_name(e))
            break
    if a.after_eof == "close":
        conn.close()
        say("closed")
        return
    # To see what a write after the RST gives, wait until the RST has
    # closed the connection, then write.
    if wait_closed(conn, a.timeout):
        say("connection closed by reset")
        try:
            conn.send(b"again")
            say("write after reset: ok")
        except OSError as e:
            say("write after reset:", err_name(e))
    else:
        say("no reset within", a.timeout, "s")
    conn.close()


def seed_client(a):
    s = connect(a.to, a.timeout)
    s.sendall(a.msg.encode())
    say("send bytes:", len(a.msg))
    if a.mode == "close":
        # Wait for the server's ACK of the message first (bounded), so the
        # FIN goes in a segment of its own, as in the capture.
        end = time.monotonic() + a.timeout
        while time.monotonic() < end:
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            unacked = struct.unpack_from("I", info, 24)[0]  # tcpi_unacked
            if unacked == 0:
                break
            time.sleep(0.005)
        s.close()
        say("closed")
        # The seed's client sleeps 6 s: the orphan keeps answering.
        time.sleep(a.linger_s)
        return
    s.shutdown(socket.SHUT_WR)
    say("shutdown")
    data = b""
    while True:
        try:
            chunk = s.recv(1024)
        except OSError as e:
            say("read error:", err_name(e))
            return
        if not chunk:
            break
        data += chunk
        say(chunk.decode(errors="replace"))
    say("server terminated")
    s.close()


def echo_client(a):
    s = connect(a.to, a.timeout)
    want = hashlib.sha256()
    got = hashlib.sha256()
    received = [0]
    failure = []

    def reader():
        try:
            while True:
                d = s.recv(1 << 18)
                if not d:
                    return
                got.update(d)
                received[0] += len(d)
        except OSError as e:
            failure.append(err_name(e))

    t = threading.Thread(target=reader)
    t.start()
    for block in stream(a.seed, a.bytes):
        want.update(block)
        s.sendall(block)
    s.shutdown(socket.SHUT_WR)
    t.join(a.timeout)
    ok = not t.is_alive() and not failure and want.digest() == got.digest()
    say(json.dumps({"sent": a.bytes, "received": received[0],
                    "equal": ok, "error": failure[0] if failure else None}))


def echo_rr(a):
    s = connect(a.to, a.timeout)
    s.settimeout(a.timeout)
    times, ok = [], True
    for i in range(a.count):
        msg = bytes((i + k) % 251 for k in range(a.size))
        t0 = time.monotonic()
        s.sendall(msg)
        got = b""
        while len(got) < a.size:
            d = s.recv(a.size - len(got))
            if not d:
                break
            got += d
        times.append((time.monotonic() - t0) * 1000)
        ok = ok and got == msg
    s.close()
    times.sort()
    say(json.dumps({"echoes": a.count, "equal": ok,
                    "median_ms": times[len(times) // 2], "max_ms": times[-1]}))


def bulk(a):
    if a.listen is not None:
        s = accept(listen(a.listen), a.timeout)
    else:
        s = connect(a.to, a.timeout)
    sent_hash = hashlib.sha256()
    sent = [0]
    failure = []
    start = time.monotonic()

    def sender():
        try:
            for block in stream(a.seed, a.bytes):
                sent_hash.update(block)
                s.sendall(block)
                sent[0] += len(block)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            failure.append("send: " + err_name(e))

    t = threading.Thread(target=sender)
    t.start()
    recv_hash = hashlib.sha256()
    received = 0
    buf = bytearray(1 << 18)
    try:
        while True:
            n = s.recv_into(buf)
            if n == 0:
                break
            recv_hash.update(memoryview(buf)[:n])
            received += n
    except OSError as e:
        failure.append("recv: " + err_name(e))
    t.join(a.timeout)
    if t.is_alive():
        failure.append("send: timeout")
    s.close()
    say(json.dumps({
        "sent": sent[0], "sent_sha256": sent_hash.hexdigest(),
        "received": received, "received_sha256": recv_hash.hexdigest(),
        "seconds": round(time.monotonic() - start, 3),
        "error": "; ".join(failure) or None,
    }))


def send_then_read(a):
    conn = accept(listen(a.port), a.timeout)
    conn.sendall(b"u" * a.bytes)
    say("sent", a.bytes)
    read_end(conn)


def hello_ok(conn):
    """Reads "hello" and replies "ok"; False at a premature end."""
    got = b""
    while len(got) < 5:
        d = conn.recv(5 - len(got))
        if not d:
            say("read eof before hello")
            return False
        got += d
    say("received", got.decode(errors="replace"))
    conn.sendall(b"ok")
    say("sent ok")
    return True


def ack_then_read(a):
    conn = accept(listen(a.port), a.timeout)
    if hello_ok(conn):
        read_end(conn)


def stall(a):
    conn = accept(listen(a.port, a.rcvbuf), a.timeout)
    if not hello_ok(conn):
        return
    say("not reading")
    if wait_closed(conn, a.timeout):
        say("connection closed by peer")
    else:
        say("still open after", a.timeout, "s")
    read_end(conn)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=float, default=30.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("seed-server")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--delay-s", type=float, default=1.0)
    c.add_argument("--after-eof", choices=["close", "wait-reset"], default="close")
    c = sub.add_parser("seed-client")
    c.add_argument("--to", required=True)
    c.add_argument("--mode", choices=["close", "shutdown"], required=True)
    c.add_argument("--msg", default="aaa")
    c.add_argument("--linger-s", type=float, default=6.0)
    c = sub.add_parser("echo-client")
    c.add_argument("--to", required=True)
    c.add_argument("--bytes", type=int, required=True)
    c.add_argument("--seed", type=int, default=7)
    c = sub.add_parser("echo-rr")
    c.add_argument("--to", required=True)
    c.add_argument("--size", type=int, default=1500)
    c.add_argument("--count", type=int, default=20)
    c = sub.add_parser("bulk")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--listen", type=int)
    g.add_argument("--to")
    c.add_argument("--bytes", type=int, required=True)
    c.add_argument("--seed", type=int, default=7)
    c = sub.add_parser("send-then-read")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--bytes", type=int, default=1000)
    c = sub.add_parser("ack-then-read")
    c.add_argument("--port", type=int, required=True)
    c = sub.add_parser("stall")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--rcvbuf", type=int, default=4096)
    a = p.parse_args()
    {
        "seed-server": seed_server,
        "seed-client": seed_client,
        "echo-client": echo_client,
        "echo-rr": echo_rr,
        "bulk": bulk,
        "send-then-read": send_then_read,
        "ack-then-read": ack_then_read,
        "stall": stall,
    }[a.cmd](a)


if __name__ == "__main__":
    main()
