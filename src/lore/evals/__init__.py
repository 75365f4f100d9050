"""Evaluation on public benchmarks: loaders, official metrics and reports."""
