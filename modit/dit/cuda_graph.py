"""The denoiser replayed from CUDA graphs: each of the sampler's network calls at the cost of one launch.

The embedded DiT is small (~2 M parameters, windows of 50 frames). On a GPU one evaluation of eps_theta is a few
hundred kernels of a few microseconds of work each, so sampling is bound by launching them, not by arithmetic:
4 ms per evaluation on an H200, 1.45 s for a minute of speech (38 windows x 10 steps), about as long as the 2-core
CPU takes. A CUDA graph records those launches once per input signature and replays them with one call; the
inputs are copied into the recorded buffers, the output is cloned out of the recorded one (H200, 60 s of speech,
fp32: 1.45 -> 0.46 s).

Used on CUDA devices only (sampling.sample_expression); MODIT_CUDA_GRAPHS=0 in the environment turns it off.
A capture that fails (an op CUDA graphs cannot record) is logged once and that signature runs eagerly.
"""
import logging
import os

import torch

log = logging.getLogger(__name__)

WARMUP_CALLS = 2  # eager calls on a side stream before capturing (cuBLAS / SDPA pick their kernels and workspaces)


def use_cuda_graphs(device: torch.device) -> bool:
    return device.type == "cuda" and os.environ.get("MODIT_CUDA_GRAPHS", "1") != "0"


class GraphedDenoiser:
    """Calls model(*inputs) like the model itself (tensors, or None for an absent input), through one CUDA graph per
    input signature (shapes, dtypes, which inputs are None)."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.graphs = {}  # signature -> (static inputs, graph, static output), or None where capture failed

    def __call__(self, *inputs):
        signature = tuple(None if a is None else (tuple(a.shape), a.dtype) for a in inputs)
        if signature not in self.graphs:
            self.graphs[signature] = self._capture(inputs)
        captured = self.graphs[signature]
        if captured is None:
            return self.model(*inputs)
        static_inputs, graph, output = captured
        for buffer, value in zip(static_inputs, inputs):
            if buffer is not None:
                buffer.copy_(value)
        graph.replay()
        return output.clone()  # the next replay overwrites the recorded output

    def _capture(self, inputs):
        static_inputs = [None if a is None else a.detach().clone() for a in inputs]
        device = self.model_device
        try:
            with torch.cuda.device(device):  # the capture stream must be on the model's GPU, not the current one
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(WARMUP_CALLS):
                        self.model(*static_inputs)
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                    output = self.model(*static_inputs)
        except RuntimeError as error:
            log.warning("CUDA graph capture of the DiT failed (%s); sampling without graphs", error)
            return None
        return static_inputs, graph, output

    @property
    def model_device(self) -> torch.device:
        return next(self.model.parameters()).device


def denoiser(model: torch.nn.Module):
    """The callable the sampler evaluates eps_theta with: the model, or its graphed replay on CUDA."""
    return GraphedDenoiser(model) if use_cuda_graphs(next(model.parameters()).device) else model
