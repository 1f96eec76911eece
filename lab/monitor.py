#!/usr/bin/env python3
"""lab/monitor.py SOCKET [--system-map FILE] COMMAND...: runs QEMU monitor
(HMP) commands on the L1 QEMU's monitor socket and prints their output.
With --system-map, each RIP=/PC= value is followed by the L1 kernel symbol
it falls in (the lab boots L1 with nokaslr, so System.map addresses hold).
lab/run uses it to show where a hung L1's CPUs are before killing it."""
import bisect
import re
import socket
import sys


def read_until_prompt(conn):
    data = b""
    conn.settimeout(10)
    while not data.endswith(b"(qemu) "):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def load_map(path):
    symbols = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW":
                symbols.append((int(parts[0], 16), parts[2]))
    symbols.sort()
    return [a for a, _ in symbols], [n for _, n in symbols]


def symbolize(text, table):
    addresses, names = table

    def name(match):
        value = int(match.group(2), 16)
        i = bisect.bisect_right(addresses, value) - 1
        if i < 0 or value - addresses[i] > 1 << 20:
            return match.group(0)
        return f"{match.group(0)} <{names[i]}+{value - addresses[i]:#x}>"

    return re.sub(r"\b(RIP|PC)=([0-9a-fA-F]{8,16})\b", name, text)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path, args = args[0], args[1:]
    table = None
    if args[:1] == ["--system-map"]:
        table = load_map(args[1])
        args = args[2:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    read_until_prompt(conn)
    for command in args:
        conn.sendall(command.encode() + b"\n")
        out = read_until_prompt(conn)
        out = out.replace("\r", "")
        # drop the echoed command line and the trailing prompt
        lines = [l for l in out.split("\n") if l != "(qemu) " and not l.endswith(command)]
        text = "\n".join(lines).strip()
        print(symbolize(text, table) if table else text)


if __name__ == "__main__":
    main()
