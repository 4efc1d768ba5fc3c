"""Load: bounded Locust runs, closed- and open-loop steps, the generator's ceiling and the no-op server.

Owns sending requests and returning raw samples (send time, latency, status) cut to measured windows;
summaries come from servingbench.measure.
"""
