"""Wav2Lip lip reference (paper §3.4.5) in the public checkpoint layout."""
