"""Quality measures the MoDiT Lip Sync Score node uses: lip sync, face tracking, the sync plot.

The bench-only meters (jitter, blinks, identity drift) live in bench/metric_*.py.
"""
