"""Flow rendering (paper §3.4.5): driven mesh, dense flow, warp, mouth interior, paste-back, streaming writer."""
