"""Report: run pages, the index, comparisons, markdown summaries, plots and history, from results/ only.

Reads published runs (servingbench.record.results) and never measures anything.
"""
