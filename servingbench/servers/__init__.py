"""Servers: how a framework's server is started, reached and stopped (local process group, container, remote).

Owns ports, process trees, readiness and the verified stop. Knows frameworks only through the adapter
contract (servingbench.adapter); knows nothing about load or statistics.
"""
