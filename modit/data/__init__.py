"""Real talking video to training data (issue 14; paper §3.5 trains on coefficients extracted from real video).

    python -m modit_app data extract VIDEOS... --out DIR [--fps 25]
    python -m modit_app data build --manifest modit/train/real/manifest --videos FOLDER --out DIR

One purpose per module:
- video.py     decode picture (resampled to the output frame rate) and sound with PyAV; a paired .wav wins
- tracking.py  the embedded face stack run frame to frame (the mesh ROI follows the previous frame's mesh)
- gates.py     which frames and utterances are kept, each rejection with a named reason
- extract.py   one clip -> one shard in the corpus format of modit/train/data.py (+ pose, eyes, frame map)
- shard.py     atomic writing and the completeness test that makes extraction resumable
- manifest.py  the committed clip list (provenance, speaker, split) that rebuilds the real data set
"""
