"""A process tree's outgoing connections, from `strace -f -e trace=connect,sendto,...` output.

What counts as phoning home: a connect or a send to an IPv4 or IPv6 address that is not this machine's
loopback, or to port 53 anywhere (a DNS query for a name is where phoning home starts, even through a
resolver on loopback such as systemd-resolved's 127.0.0.53). Unix and netlink sockets are local by nature
and ignored; a send on a connected socket carries no address (its connect was checked).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

TRACED = "connect,sendto,sendmsg,sendmmsg,execve"
"""The system calls that name a destination, and execve: every traced program shows, so an empty trace
cannot pass for a quiet server."""
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"')
_CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\(")


@dataclass(frozen=True)
class Destination:
    pid: int
    call: str
    address: str
    port: int
    line: str

    def __str__(self) -> str:
        return f"pid {self.pid} {self.call} to {self.address} port {self.port}: {self.line[:200]}"


def strace_argv(log: Path) -> list[str]:
    """The prefix that runs a command under strace, following forks, writing only the traced calls."""
    return ["strace", "-f", "-qq", "-e", f"trace={TRACED}", "-e", "signal=none", "-s", "64", "-o", str(log)]


def destinations(text: str) -> list[Destination]:
    """Every IPv4/IPv6 destination named in the trace, in order."""
    found = []
    for line in text.splitlines():
        call = _CALL.match(line)
        if not call:
            continue
        for pattern in (_INET, _INET6):
            for port, address in pattern.findall(line):
                found.append(Destination(int(call.group(1)), call.group(2), address, int(port), line))
    return found


def is_local(address: str) -> bool:
    """Loopback (127/8, ::1, ::ffff:127.x), or the unspecified address (a connect to it reaches this host)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def executed(text: str) -> list[str]:
    """The programs the trace saw started (execve's first argument, successful calls only)."""
    return re.findall(r'execve\("([^"]+)",.*= 0$', text, flags=re.MULTILINE)


def phoning_home(text: str) -> list[Destination]:
    """The destinations that leave this machine, or look a name up over DNS."""
    return [d for d in destinations(text) if not is_local(d.address) or d.port == 53]
