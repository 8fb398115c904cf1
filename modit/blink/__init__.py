"""Blink mapping and head motion (paper §3.4.4): blink_sequence, mapping net, pose heads, statistical default."""
