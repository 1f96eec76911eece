#!/usr/bin/env python3
"""lab/monitor.py SOCKET COMMAND...: runs QEMU monitor (HMP) commands on the
L1 QEMU's monitor socket and prints their output. lab/run uses it to show
where a hung L1's CPUs are before killing it. L1 boots with nokaslr, so the
RIPs it prints can be looked up in /proc/kallsyms of another L1 boot (Debian's
System.map is a placeholder)."""
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


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, commands = sys.argv[1], sys.argv[2:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    read_until_prompt(conn)
    for command in commands:
        conn.sendall(command.encode() + b"\n")
        out = read_until_prompt(conn).replace("\r", "")
        # drop the echoed command line and the trailing prompt
        lines = [l for l in out.split("\n") if l != "(qemu) " and not l.endswith(command)]
        print("\n".join(lines).strip())


if __name__ == "__main__":
    main()
