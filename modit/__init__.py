"""MoDiT: audio-driven talking heads from 3D motion coefficients sampled by a diffusion transformer.

Pure PyTorch + numpy. ComfyUI is reached only through `comfy_adapter`. Importing this package is cheap.
"""
