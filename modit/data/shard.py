"""Atomic shard writing and the completeness test that makes extraction resumable.

A clip `name` extracted into DIR leaves, written in this order and each atomically (temporary file + rename):
    DIR/meshes/<name>.safetensors   the pose-free meshes of the kept frames (for basis studies; not read by training)
    DIR/<name>.safetensors          the training shard (modit/train/data.py format), only if any frame was kept
    DIR/<name>.json                 the clip report (gates, counts, timings); written LAST, so its presence means done
"""
import json
import os

from ..checkpoints import save_checkpoint


def paths(directory: str, name: str) -> dict:
    return {"shard": os.path.join(directory, f"{name}.safetensors"),
            "report": os.path.join(directory, f"{name}.json"),
            "meshes": os.path.join(directory, "meshes", f"{name}.safetensors")}


def is_complete(directory: str, name: str) -> bool:
    """True when the clip's report exists and, if it kept frames, its shard too."""
    where = paths(directory, name)
    if not os.path.isfile(where["report"]):
        return False
    try:
        with open(where["report"]) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return False
    return report.get("kept_frames", 0) == 0 or os.path.isfile(where["shard"])


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.partial"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def write(directory: str, name: str, tensors: dict | None, metadata: dict, meshes: dict | None, report: dict) -> None:
    where = paths(directory, name)
    os.makedirs(os.path.dirname(where["meshes"]), exist_ok=True)
    if meshes is not None:
        save_checkpoint(where["meshes"], meshes, {"source_file": metadata.get("source_file", name)})
    if tensors is not None:
        save_checkpoint(where["shard"], tensors, metadata)
    elif os.path.exists(where["shard"]):  # a redone clip that now keeps nothing: no stale shard may stay behind
        os.remove(where["shard"])
    write_json(where["report"], report)
