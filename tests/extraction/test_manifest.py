"""The committed real-data manifest: well formed, split by speaker, and matching the shared folder where present."""
import os

import pytest

from comfyui_modit.modit.data import manifest

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared",
                      "data", "talking")


def test_manifest_is_split_by_speaker():
    rows = manifest.read()
    manifest.check_split(rows)
    assert all(row[c] for row in rows for c in manifest.COLUMNS)
    val = [row for row in rows if row["split"] == "val"]
    assert 8 <= len(val) <= 12 and len({row["speaker"] for row in val}) == len(val)
    assert len({row["file"] for row in rows}) == len(rows)


def test_the_extra_clips_are_train_only_and_new():
    main, more = manifest.read(), manifest.read(manifest.MORE)
    assert more and all(row["split"] == "train" and all(row[c] for c in manifest.COLUMNS) for row in more)
    manifest.check_split(main + more)  # no validation speaker among them
    assert len({row["file"] for row in main + more}) == len(main) + len(more)


def test_a_speaker_in_both_splits_is_refused():
    rows = [{"speaker": "a", "split": "train"}, {"speaker": "a", "split": "val"}]
    with pytest.raises(ValueError, match="both train and val"):
        manifest.check_split(rows)


def test_every_listed_clip_is_in_the_shared_folder():
    if not os.path.isdir(SHARED):
        pytest.skip(f"{SHARED} is not here (the clips are never in the repository)")
    missing = [row["file"] for row in manifest.read() if not os.path.isfile(os.path.join(SHARED, row["file"]))]
    assert not missing
