"""Batch jobs: (portrait, speech) pairs from a folder or CSV, each turned into its own API-format graph."""
import copy
import csv
import os
import re
from dataclasses import dataclass

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus")
# Nodes whose "filename_prefix" names saved outputs: each job gets its own prefix so nothing is overwritten.
SAVING_NODES = {"SaveVideo", "SaveImage", "SaveAudio", "MoDiTRenderToVideo", "MoDiTSaveMotion"}


@dataclass
class Job:
    name: str  # safe stem used in output names
    image: str  # local path
    audio: str  # local path
    seed: int | None = None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "job"


def jobs_from_folder(folder: str) -> list[Job]:
    """Pair images and audio files that share a stem (alice.png + alice.wav). One image and several audio
    files pair that image with each audio file."""
    names = sorted(os.listdir(folder))
    images = {os.path.splitext(n)[0]: n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)}
    audios = {os.path.splitext(n)[0]: n for n in names if n.lower().endswith(AUDIO_EXTENSIONS)}
    if not images or not audios:
        raise ValueError(f"{folder}: need image files ({', '.join(IMAGE_EXTENSIONS)}) and audio files "
                         f"({', '.join(AUDIO_EXTENSIONS)}); found {len(images)} images and {len(audios)} audio files")
    if len(images) == 1:
        (image,) = images.values()
        return [Job(_safe_name(stem), os.path.join(folder, image), os.path.join(folder, a)) for stem, a in audios.items()]
    paired = sorted(set(images) & set(audios))
    if not paired:
        raise ValueError(f"{folder}: no image and audio file share a name (e.g. alice.png + alice.wav); "
                         f"or give a CSV with columns image,audio")
    return [Job(_safe_name(s), os.path.join(folder, images[s]), os.path.join(folder, audios[s])) for s in paired]


def jobs_from_csv(path: str) -> list[Job]:
    """Rows of image,audio[,name][,seed]; relative paths are relative to the CSV file."""
    base = os.path.dirname(os.path.abspath(path))
    jobs = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"image", "audio"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: the first row must name the columns, including image and audio "
                             f"(found {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            image, audio = (os.path.join(base, row[k].strip()) for k in ("image", "audio"))
            for file in (image, audio):
                if not os.path.isfile(file):
                    raise ValueError(f"{path} line {line}: no such file {file}")
            name = row.get("name") or f"{os.path.splitext(os.path.basename(image))[0]}_{os.path.splitext(os.path.basename(audio))[0]}"
            seed = int(row["seed"]) if row.get("seed") else None
            jobs.append(Job(_safe_name(name), image, audio, seed))
    if not jobs:
        raise ValueError(f"{path}: no rows")
    return jobs


def graph_for_job(template: dict, image_name: str, audio_name: str, prefix: str, seed: int | None) -> dict:
    """A copy of the API graph with the job's uploaded inputs, its own output prefix and (optionally) seed."""
    graph = copy.deepcopy(template)
    loaders = {"LoadImage": ("image", image_name), "LoadAudio": ("audio", audio_name)}
    found = set()
    for node in graph.values():
        kind, inputs = node.get("class_type"), node.get("inputs", {})
        if kind in loaders:
            key, value = loaders[kind]
            inputs[key] = value
            found.add(kind)
        if kind in SAVING_NODES and "filename_prefix" in inputs:
            inputs["filename_prefix"] = f"{prefix}_{_safe_name(str(node.get('_meta', {}).get('title', kind)))}"
        if seed is not None and "seed" in inputs and not isinstance(inputs["seed"], list):
            inputs["seed"] = seed
    missing = set(loaders) - found
    if missing:
        raise ValueError(f"workflow has no {' / '.join(sorted(missing))} node to feed the job's files into")
    return graph


def unique_path(directory: str, filename: str) -> str:
    """A path in directory that does not exist yet: name.mp4, name_1.mp4, name_2.mp4, ..."""
    stem, ext = os.path.splitext(filename)
    candidate, counter = os.path.join(directory, filename), 1
    while os.path.exists(candidate):
        candidate = os.path.join(directory, f"{stem}_{counter}{ext}")
        counter += 1
    return candidate


def write_new_file(directory: str, filename: str, content: bytes) -> str:
    """Write content under a name that exists nowhere yet (exclusive create: never overwrites)."""
    os.makedirs(directory, exist_ok=True)
    while True:
        path = unique_path(directory, filename)
        try:
            with open(path, "xb") as f:
                f.write(content)
            return path
        except FileExistsError:  # another worker took the name between the check and the open
            continue
