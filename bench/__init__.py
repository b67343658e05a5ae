"""Deskwoot's performance benchmark (issue 5): dataset, reference servers, wrk load, report.

Run it with `make bench` (full) or `make bench-quick`; see bench/README.md.
"""
