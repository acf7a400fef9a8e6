#!/usr/bin/env python3
"""attack.py — hostile HTTP/WebSocket clients for tests/integration/test_attacks.sh.

  attack.py flood HOST:PORT[,HOST:PORT...] N --src IP --ready FILE --until FILE
      opens N TCP connections spread over the targets (from source address IP),
      sends nothing, writes "opened K" to FILE once every connect finished or
      failed, holds them until --until FILE exists, then prints
      "opened K closed_by_server C".
  attack.py slowloris HOST:PORT N --src IP --ready FILE --until FILE
      N connections that send a request line and then one header byte a
      second; like flood for the files; prints how many the server closed.
  attack.py idle HOST:PORT --src IP --max SECS
      one connection that sends a partial request and nothing more; prints
      "closed after S" when the server closes it (exit 0), or "open" after
      SECS (exit 1).
  attack.py ws HOST:PORT PATH TOKEN garbage|noread --ready FILE --until FILE
      a WebSocket upgrade; garbage: sends frames that are no WebSocket
      (unmasked, reserved opcodes, a 2^63 length) and prints "closed" when the
      server drops it (exit 0) or "open" (exit 1) at --until; noread:
      upgrades and never reads, holds until --until, prints how many bytes the
      kernel took before the server stopped sending (or "closed").
"""
import os
import select
import socket
import sys
import time


def opt(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def targets(spec):
    out = []
    for t in spec.split(","):
        h, p = t.rsplit(":", 1)
        out.append((h, int(p)))
    return out


def dial(host, port, src, block=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # the source port is picked at connect, not by a bind(0) scan per socket
    s.setsockopt(socket.SOL_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
    s.bind((src, 0))
    if block:
        s.settimeout(5)
        s.connect((host, port))
        return s
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    return s


def wait_file(path):
    while not os.path.exists(path):
        time.sleep(0.05)


def settle(socks, secs=10):
    """Waits until each non-blocking connect finished; returns the connected ones."""
    pending = {s.fileno(): s for s in socks}
    done = []
    ep = select.epoll()
    for fd in pending:
        ep.register(fd, select.EPOLLOUT)
    deadline = time.time() + secs
    while pending and time.time() < deadline:
        for fd, _ in ep.poll(0.2):
            s = pending.pop(fd)
            ep.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done.append(s)
            else:
                s.close()
    for s in pending.values():
        s.close()
    ep.close()
    return done


def closed(s):
    try:
        return s.recv(65536, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def flood(slow):
    tg = targets(sys.argv[2])
    n = int(sys.argv[3])
    src = opt("--src", "127.0.0.1")
    socks = []
    for i in range(n):
        h, p = tg[i % len(tg)]
        s = dial(h, p, src)
        if s is not None:
            socks.append(s)
    socks = settle(socks)
    with open(opt("--ready"), "w") as f:
        f.write("opened %d\n" % len(socks))
    until = opt("--until")
    if slow:
        for s in socks:
            try:
                s.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
        i = 0
        while not os.path.exists(until):
            for s in socks:
                try:
                    s.send(b"X-a: b\r\n"[i % 8:i % 8 + 1])
                except OSError:
                    pass
            i += 1
            for _ in range(10):
                if os.path.exists(until):
                    break
                time.sleep(0.1)
    else:
        wait_file(until)
    c = sum(1 for s in socks if closed(s))
    print("opened %d closed_by_server %d" % (len(socks), c))
    for s in socks:
        s.close()


def idle():
    (h, p), = targets(sys.argv[2])
    s = dial(h, p, opt("--src", "127.0.0.1"), block=True)
    s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    s.settimeout(float(opt("--max", "30")))
    try:
        while s.recv(65536):
            pass
        print("closed after %.1f" % (time.time() - t0))
        return 0
    except socket.timeout:
        print("open")
        return 1
    except OSError:
        print("closed after %.1f" % (time.time() - t0))
        return 0


def ws():
    (h, p), = targets(sys.argv[2])
    path, token, mode = sys.argv[3], sys.argv[4], sys.argv[5]
    s = dial(h, p, opt("--src", "127.0.0.1"), block=True)
    s.send(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Authorization: Bearer %s\r\n\r\n" % (path, h, p, token)).encode())
    head = b""
    s.settimeout(10)
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            break
        head += b
    if b" 101 " not in head.split(b"\r\n")[0]:
        print("no upgrade: %r" % head[:200])
        return 2
    if mode == "noread":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with open(opt("--ready"), "w") as f:
            f.write("upgraded\n")
        wait_file(opt("--until"))
        print("held")
        return 0
    frames = [
        b"\x81\x05hello",                       # unmasked client frame
        b"\x83\x80\x00\x00\x00\x00",            # reserved opcode 3, masked
        b"\x81\xff" + b"\x7f" + b"\xff" * 7 + b"\x00\x00\x00\x00",  # 2^63-byte length
        os.urandom(4096),
    ]
    with open(opt("--ready"), "w") as f:
        f.write("upgraded\n")
    for fr in frames:
        try:
            s.send(fr)
        except OSError:
            break
    s.settimeout(0.2)
    until = opt("--until")
    while not os.path.exists(until):
        try:
            b = s.recv(65536)
            if b == b"":
                print("closed")
                return 0
        except socket.timeout:
            pass
        except OSError:
            print("closed")
            return 0
    print("open")
    return 1


def main():
    cmd = sys.argv[1]
    if cmd == "flood":
        flood(False)
    elif cmd == "slowloris":
        flood(True)
    elif cmd == "idle":
        return idle()
    elif cmd == "ws":
        return ws()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
