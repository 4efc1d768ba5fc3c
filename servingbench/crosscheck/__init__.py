"""Cross-checks of our headline by an independent tool: MLPerf LoadGen's Server scenario."""
