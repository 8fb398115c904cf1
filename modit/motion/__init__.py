"""Tools on MODIT_MOTION tracks between sampler and renderer: smoothing, scaling, track files, curve previews."""
