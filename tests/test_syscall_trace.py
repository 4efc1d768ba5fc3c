"""The strace reading behind the no-phone-home test, on lines as strace 6.1 writes them."""

from __future__ import annotations

from pathlib import Path

from tests.syscall_trace import destinations, is_local, phoning_home

TRACE = (Path(__file__).parent / "data" / "strace_sample.txt").read_text()
"""strace 6.1 lines: the first two are ONNX Runtime's telemetry DNS query as seen here, the rest made up."""


def test_reads_every_inet_destination_and_skips_local_families():
    found = destinations(TRACE)
    assert [(d.pid, d.call, d.address, d.port) for d in found] == [
        (29319, "connect", "10.255.255.53", 53),
        (28846, "sendto", "::1", 9),
        (28846, "sendto", "::ffff:127.0.0.1", 9),
        (28890, "connect", "127.0.0.1", 41234),
        (28891, "connect", "2001:db8::1", 443),
        (28892, "connect", "127.0.0.53", 53),
    ]


def test_phoning_home_is_off_loopback_or_dns():
    assert [(d.address, d.port) for d in phoning_home(TRACE)] == [
        ("10.255.255.53", 53), ("2001:db8::1", 443), ("127.0.0.53", 53)]
    assert phoning_home("") == []


def test_loopback_forms():
    assert all(is_local(a) for a in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::"))
    assert not any(is_local(a) for a in ("10.0.0.1", "192.168.1.1", "::ffff:10.0.0.1", "2001:db8::1"))
