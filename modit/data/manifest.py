"""The committed list of real clips (modit/train/real/manifest): provenance, speaker and split of each file.

Tab-separated, one clip per line, `#` starts a comment; the header line names the columns:
    file     the file name in the local folder (<owner>__<repo>__<basename>, as ../shared/data/talking names it)
    repo     the GitHub repository it comes from (owner/name)
    path     its path in that repository (a paired .wav sits beside the video under the same stem)
    commit   a commit that holds it
    speaker  a speaker id: clips of one person share it (the split is by speaker)
    split    train or val
    who      a short description (from the source MANIFEST)
Only videos are listed; a `<stem>.wav` next to a video in the local folder is read as its paired audio.
"""
import os

MANIFEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train", "real", "manifest")
# more public clips (all train), found at stop 26 (modit/train/README.md, "More real speech"); v5 learned from them
MORE = os.path.join(os.path.dirname(MANIFEST), "manifest_more")
AV_OFFSETS = os.path.join(os.path.dirname(MANIFEST), "av_offsets")  # the train clips' measured audio-visual offsets
AV_OFFSETS_MORE = os.path.join(os.path.dirname(MANIFEST), "av_offsets_more")  # the same for MORE's clips
# The validation clips' own offsets: for the benches' in-sync reading (bench/real_motion.py --av-offsets), never training
AV_OFFSETS_VAL = os.path.join(os.path.dirname(MANIFEST), "av_offsets_val")
COLUMNS = ("file", "repo", "path", "commit", "speaker", "split", "who")
SPLITS = ("train", "val")


def read(path: str = MANIFEST) -> list[dict]:
    """The manifest's rows as dicts (COLUMNS); raises ValueError naming the line of a malformed row."""
    rows, header = [], None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                missing = [c for c in COLUMNS if c not in header]
                if missing:
                    raise ValueError(f"{path}: header lacks columns {missing}; expected {list(COLUMNS)}")
                continue
            if len(cells) != len(header):
                raise ValueError(f"{path} line {number}: {len(cells)} cells, the header has {len(header)}")
            row = dict(zip(header, cells))
            if row["split"] not in SPLITS:
                raise ValueError(f"{path} line {number}: split {row['split']!r} is not one of {SPLITS}")
            rows.append(row)
    return rows


def provenance(row: dict) -> dict:
    """The shard metadata fields that say where a clip came from."""
    return {k: row[k] for k in ("repo", "path", "commit", "speaker", "split")}


def by_file(rows: list[dict]) -> dict:
    return {row["file"]: row for row in rows}


def check_split(rows: list[dict]) -> None:
    """Raises ValueError if a speaker appears in both splits."""
    splits = {}
    for row in rows:
        splits.setdefault(row["speaker"], set()).add(row["split"])
    both = sorted(s for s, v in splits.items() if len(v) > 1)
    if both:
        raise ValueError(f"speakers in both train and val: {both}; the split must be by speaker")
