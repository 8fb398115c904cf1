"""Quality measures on rendered clips: lip sync, jitter, blinks, identity drift."""
