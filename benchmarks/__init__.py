"""Speed and quality benchmarks; never part of the default test run."""
