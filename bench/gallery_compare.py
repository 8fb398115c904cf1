"""Two gallery runs side by side: per face, the baseline's and the candidate's figures, as a markdown table.

    python bench/gallery_compare.py /work/out/gallery/main-29d0b72 /work/out/gallery/<other label>
"""
import csv
import json
import math
import os
import sys

FIGURES = ("id_mean", "id_max", "jitter", "art_mean", "art_max")


def read(folder: str) -> dict:
    with open(os.path.join(folder, "gallery.csv")) as f:
        return {row["face"]: {k: _num(v) for k, v in row.items()} for row in csv.DictReader(f)}


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def median(values):
    values = sorted(v for v in values if isinstance(v, float) and not math.isnan(v))
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    base, new = (read(folder) for folder in argv)
    names = [os.path.basename(os.path.normpath(folder)) for folder in argv]
    faces = [face for face in base if face in new]
    real_path = os.path.join(os.path.dirname(os.path.normpath(argv[0])), "real_reference.json")
    real = json.load(open(real_path))["real_jitter_median"] if os.path.isfile(real_path) else None
    header = ["face"] + [f"{fig} {n}" for fig in FIGURES for n in ("base", "new")] + ["still jitter", "still art"]
    print(f"base = {names[0]}, new = {names[1]}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for face in faces + ["median"]:
        if face == "median":
            cells = [f"{median([base[f][fig] for f in faces]):.3f} | {median([new[f][fig] for f in faces]):.3f}"
                     for fig in FIGURES]
            cells += [f"{median([new[f]['still_jitter'] for f in faces]):.4f}",
                      f"{median([new[f]['still_art_mean'] for f in faces]):.2f}"]
            print("| **median** | " + " | ".join(cells) + " |")
            continue
        b, n = base[face], new[face]
        cells = [f"{b[fig]:.3f} | {n[fig]:.3f}" for fig in FIGURES]
        cells += [f"{n['still_jitter']:.4f}", f"{n['still_art_mean']:.2f}"]
        print(f"| {face} | " + " | ".join(cells) + " |")
    print()
    for label, rows in zip(names, (base, new)):
        r = [rows[f] for f in faces]
        counts = [f"identity mean <= 0.30: {sum(x['id_mean'] <= 0.30 for x in r)}/{len(r)}",
                  f"no frame > 0.45: {sum(x['id_max'] <= 0.45 for x in r)}/{len(r)}",
                  f"jitter <= 1.3 x still: {sum(x['jitter'] <= 1.3 * x['still_jitter'] for x in r)}/{len(r)}",
                  f"artifact mean <= still + 1: {sum(x['art_mean'] <= x['still_art_mean'] + 1 for x in r)}/{len(r)}"]
        if real:
            counts.insert(2, f"jitter <= 1.5 x real median {real:.4f}: {sum(x['jitter'] <= 1.5 * real for x in r)}/{len(r)}")
        print(f"- {label}: " + "; ".join(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
