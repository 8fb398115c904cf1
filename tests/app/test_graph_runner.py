"""The CLI's graph runner releases each output once its last reader has run, and times every node."""
import gc
import weakref

import pytest

from comfyui_modit.modit_app.graph_runner import run_graph


class Blob:
    """Stands in for a large output (a recording, a feature track)."""


class Output:
    """What a V3 node's execute returns (io.NodeOutput): the values in `args`."""

    def __init__(self, *args):
        self.args = args


# Nodes shaped like V3 nodes (classmethod execute); the records they keep are the test's, not node state.
MADE = []
PROBED = {}


class Source:
    @classmethod
    def execute(cls):
        blob = Blob()
        MADE.append(weakref.ref(blob))
        return Output(blob, "unused slot")


class Reader:
    @classmethod
    def execute(cls, value, after=None):
        return Output(object())


class Probe:
    """Runs last; records whether the source's blob still exists."""

    @classmethod
    def execute(cls, value):
        gc.collect()
        PROBED["alive"] = [ref() is not None for ref in MADE]
        return ("done",)  # a plain tuple is a valid V3 return too


CLASSES = {"Source": Source, "Reader": Reader, "Probe": Probe}


def test_outputs_are_released_after_their_last_reader():
    MADE.clear()
    graph = {
        "1": {"class_type": "Source", "inputs": {}},
        "2": {"class_type": "Reader", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "Reader", "inputs": {"value": ["1", 0], "after": ["2", 0]}},  # last reader of 1
        "4": {"class_type": "Probe", "inputs": {"value": ["3", 0]}},
    }
    timings = []
    outputs = run_graph(graph, CLASSES, timings)
    assert PROBED["alive"] == [False]  # released before node 4 ran
    assert list(outputs) == ["4"] and outputs["4"] == ("done",)  # only what nothing reads is returned
    assert [(node, kind) for node, kind, _ in timings] == [("1", "Source"), ("2", "Reader"), ("3", "Reader"),
                                                           ("4", "Probe")]
    assert all(seconds >= 0 for _, _, seconds in timings)


def test_an_output_stays_while_a_later_node_still_reads_it():
    MADE.clear()
    graph = {
        "1": {"class_type": "Source", "inputs": {}},
        "2": {"class_type": "Probe", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "Reader", "inputs": {"value": ["1", 0], "after": ["2", 0]}},
    }
    outputs = run_graph(graph, CLASSES)
    assert PROBED["alive"] == [True]  # node 3 still had to read it
    assert list(outputs) == ["3"]


def test_a_cycle_is_refused():
    graph = {"1": {"class_type": "Reader", "inputs": {"value": ["2", 0]}},
             "2": {"class_type": "Reader", "inputs": {"value": ["1", 0]}}}
    with pytest.raises(ValueError, match="cycle"):
        run_graph(graph, CLASSES)


def test_kept_nodes_are_returned_whole():
    MADE.clear()
    graph = {
        "1": {"class_type": "Source", "inputs": {}},
        "2": {"class_type": "Reader", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "Probe", "inputs": {"value": ["2", 0]}},
    }
    outputs = run_graph(graph, CLASSES, keep=("1",))
    assert PROBED["alive"] == [True]  # the kept source outlives its last reader
    assert sorted(outputs) == ["1", "3"]
    assert isinstance(outputs["1"][0], Blob) and outputs["1"][1] == "unused slot"  # every slot, read or not
