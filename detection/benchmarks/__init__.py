"""Offline benchmarks of the detectors on public data sets (SKAB, C-MAPSS)."""
