"""One real clip -> one training shard (paper §3.5 data: audio features and the expression of every frame).

Shard tensors (rows = kept frames of the U utterances, concatenated in order; modit/train/data.py reads the first
four, the rest are extra):
    features         [N, 320] float32  mel80 of each output frame, through MoDiT Encode Audio's code path
    expression       [N, 12]  float32  embedded-v1 coefficients of the frame (tracking.py)
    beta_0           [U, 12]  float32  the utterance's FIRST kept frame's expression (BETA_0_RULE)
    lengths          [U]      int64
    rest_expression  [U, 12]  float32  the clip's mean expression over its lowest-jaw tenth of kept frames
    utterance_start  [U]      int64    output frame where each utterance starts
    pose             [N, 6]   float32  MODIT_MOTION pose offsets from the utterance's first frame (POSE_CHANNELS)
    head_rotation    [N, 3]   float32  absolute yaw, pitch, roll (rad) against the camera: the expression fit is
                                       orthographic, so far-turned heads read less reliably (weight or drop them)
    eyes             [N, 2]   float32  eye openness (subject's left, right), ~1 open, ~0 closed
    frame_index      [N]      int64    output frame (at `fps`) of each row;  source_frame: the decoded picture
    mouth_open       [N]      float32  inner-lip gap / inter-ocular distance (an independent mouth measure)
    level_db         [N]      float32  10 log10 mean square of the frame's audio (dBFS)
Metadata: feature_kind, feature_dim, fps, space (as the synthetic corpus), and provenance (source_file, repo, path,
commit, speaker, split, terms), audio_source, beta_0_rule, gate settings.
"""
import json
import logging
import math
import os
import time

import numpy as np
import torch

from ..face.components import JAW_OPEN, SPACE_NAME
from ..timing import samples_for_frames
from . import gates, shard, video
from .tracking import FaceTracker, MIN_SCORE

log = logging.getLogger(__name__)

FEATURE_KIND = "mel80"
TERMS = "research use only: extracted from third-party footage (see modit/train/real/manifest and its sources)"
BETA_0_RULE = ("first kept frame of the utterance: the validation protocol animates each clip from its own first "
               "frame, and a user's source portrait is an arbitrary still of the speaker, not a rest pose, so the "
               "model learns to move relative to any real frame; rest_expression (the clip's lowest-jaw frames) is "
               "stored beside it for a trainer that prefers a closed-mouth reference")
MAX_LAG = 10  # frames searched for the audio-visual offset estimate


def clip_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def audio_features(waveform: np.ndarray, sample_rate: int, num_frames: int, fps: float, encoder=None) -> torch.Tensor:
    """[T, D] features of T frames through `encoder`.encode (the Encode Audio node's path; default the built-in mel)."""
    from ..audio.encoder import AudioEncoder

    encoder = encoder or AudioEncoder.builtin_mel()
    samples = samples_for_frames(num_frames, sample_rate, fps)
    waveform = np.pad(waveform[:samples], (0, max(0, samples - waveform.shape[0])))
    audio = {"waveform": torch.from_numpy(np.ascontiguousarray(waveform, np.float32)).reshape(1, 1, -1),
             "sample_rate": int(sample_rate)}
    encoded = encoder.encode(audio, fps=fps)
    if encoded.kind != encoder.kind or encoded.num_frames != num_frames:
        raise RuntimeError(f"the audio encoder {encoder.name!r} gave {encoded.num_frames} {encoded.kind!r} frames for "
                           f"{num_frames} video frames; expected {encoder.kind!r} frames, one per video frame")
    return encoded.features.float().cpu()


def frame_levels(waveform: np.ndarray, sample_rate: int, num_frames: int, fps: float) -> np.ndarray:
    from ..audio.loudness import frame_mean_square

    return 10 * np.log10(frame_mean_square(torch.from_numpy(waveform), sample_rate, fps, num_frames) + 1e-10)


def av_lag(mouth: np.ndarray, level_db: np.ndarray, max_lag: int = MAX_LAG) -> dict:
    """Best lag (frames; negative = the mouth moves before the sound) of mouth opening vs loudness, and r there."""
    def r_at(lag):
        a, b = (mouth[:len(mouth) + lag], level_db[-lag:]) if lag < 0 else (mouth[lag:], level_db[:len(level_db) - lag])
        if len(a) < 10 or a.std() < 1e-9 or b.std() < 1e-9:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])

    values = {lag: r_at(lag) for lag in range(-max_lag, max_lag + 1)}
    finite = {k: v for k, v in values.items() if math.isfinite(v)}
    if not finite:
        return {"best_lag": None, "r_best": None, "r_lag0": None}
    best = max(finite, key=finite.get)
    return {"best_lag": best, "r_best": round(finite[best], 3), "r_lag0": round(values[0], 3)}


def track_clip(path: str, fps: float, tracker: FaceTracker, min_score: float = MIN_SCORE) -> dict:
    """Run the tracker over every output frame; per-frame arrays and gate reasons."""
    rows = {k: [] for k in ("expression", "rotation", "centre", "scale", "side", "openness", "mouth_open", "source_frame",
                            "canonical", "score")}
    reasons, prev_thumb, prev_points = [], None, None
    for i, j, rgb in video.frames_at(path, fps):
        thumb = gates.thumbnail(rgb)
        cut = gates.pixel_jump(prev_thumb, thumb) > gates.PIXEL_CUT
        if cut:
            tracker.reset()  # a new shot: find the face afresh
        measure = tracker.measure(torch.from_numpy(rgb).float().div_(255))
        if measure.face and prev_points is not None:
            cut = cut or gates.landmark_jump(prev_points, measure.points, measure.inter_ocular) > gates.LANDMARK_CUT
        reasons.append(gates.frame_reason(measure, cut, min_score))
        prev_thumb, prev_points = thumb, (measure.points if measure.face else None)
        rows["expression"].append(measure.expression)
        rows["rotation"].append(measure.rotation)
        rows["centre"].append(measure.centre)
        rows["scale"].append(measure.scale)
        rows["side"].append(measure.side)
        rows["openness"].append(measure.openness)
        rows["mouth_open"].append(measure.mouth_open)
        rows["source_frame"].append(j)
        rows["canonical"].append(measure.canonical.astype(np.float16))
        rows["score"].append(measure.score)
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    arrays["reasons"] = reasons
    return arrays


def utterance_pose(rotation: np.ndarray, centre: np.ndarray, scale: np.ndarray, side: float) -> np.ndarray:
    """[L, 6] MODIT_MOTION pose offsets from the first frame: angles, the head origin's shift in units of the
    first frame's crop side, and the log scale change (origin and scale come from the rigid fit, so an opening
    jaw moves neither)."""
    pose = np.zeros((rotation.shape[0], 6))
    pose[:, :3] = rotation - rotation[0]
    pose[:, 3:5] = (centre - centre[0]) / side
    pose[:, 5] = np.log(scale / scale[0])
    return pose


def _gated_report(name, path, provenance, reason, started, **extra) -> dict:
    return {"name": name, "source_file": os.path.basename(path), **provenance, "clip_gate": reason,
            "frames": 0, "kept_frames": 0, "kept_seconds": 0.0, "utterances": 0, "frame_gates": {},
            "segment_gates": {}, "wall_seconds": round(time.time() - started, 2), **extra}


def extract_clip(path: str, out_dir: str, fps: float = 25.0, provenance: dict | None = None,
                 tracker: FaceTracker | None = None, min_seconds: float = gates.MIN_SECONDS,
                 min_score: float = MIN_SCORE, force: bool = False) -> dict:
    """Extract one clip into out_dir (see the module docstring); returns the clip report. Skips a finished clip."""
    name = clip_name(path)
    if not force and shard.is_complete(out_dir, name):
        log.info("%s: already extracted, skipped", name)
        with open(shard.paths(out_dir, name)["report"]) as f:
            return {**json.load(f), "skipped": True}
    started = time.time()
    provenance = dict(provenance or {})
    provenance.setdefault("speaker", name)
    provenance.setdefault("split", "unspecified")
    sound = video.read_sound(path)
    if sound is None:
        log.warning("%s: gated (no_audio): no paired .wav and no audio track", name)
        report = _gated_report(name, path, provenance, "no_audio", started)
        shard.write(out_dir, name, None, {}, None, report)
        return report
    tracker = tracker or FaceTracker(min_score=min_score)
    tracker.reset()
    track = track_clip(path, fps, tracker, min_score)
    T = len(track["reasons"])
    if T == 0:
        report = _gated_report(name, path, provenance, "no_frames", started)
        shard.write(out_dir, name, None, {}, None, report)
        return report
    features = audio_features(sound.waveform, sound.sample_rate, T, fps)
    level_db = frame_levels(sound.waveform, sound.sample_rate, T, fps)
    segments = gates.segments(track["reasons"], level_db, fps, min_seconds)
    kept = [s for s in segments if s.reason is None]
    frame_gates = {r: int(sum(1 for x in track["reasons"] if x == r)) for r in gates.FRAME_REASONS}
    segment_gates = {r: int(sum(s.length for s in segments if s.reason == r)) for r in gates.SEGMENT_REASONS}
    for s in segments:
        if s.reason is not None:
            log.info("%s: frames %d-%d gated (%s)", name, s.start, s.stop - 1, s.reason)
    for reason, count in frame_gates.items():
        if count:
            log.info("%s: %d of %d frames gated (%s)", name, count, T, reason)

    rows = np.concatenate([np.arange(s.start, s.stop) for s in kept]) if kept else np.zeros(0, np.int64)
    kept_frames = int(rows.size)
    report = {"name": name, "source_file": os.path.basename(path), **provenance, "clip_gate": None,
              "audio_source": sound.source, "frames": T, "seconds": round(T / fps, 2), "kept_frames": kept_frames,
              "kept_seconds": round(kept_frames / fps, 2), "utterances": len(kept),
              "segments": [[s.start, s.stop, s.reason] for s in segments], "frame_gates": frame_gates,
              "segment_gates": segment_gates}
    tensors = metadata = meshes = None
    if kept:
        expression = track["expression"]
        jaw = expression[rows, JAW_OPEN]
        low = rows[jaw <= np.quantile(jaw, 0.1)]
        rest = expression[low].mean(0)
        poses = [utterance_pose(track["rotation"][s.start:s.stop], track["centre"][s.start:s.stop],
                                track["scale"][s.start:s.stop], float(track["side"][s.start])) for s in kept]
        tensors = {
            "features": features[rows],
            "expression": torch.from_numpy(expression[rows]).float(),
            "beta_0": torch.from_numpy(np.stack([expression[s.start] for s in kept])).float(),
            "lengths": torch.tensor([s.length for s in kept], dtype=torch.int64),
            "rest_expression": torch.from_numpy(np.stack([rest] * len(kept))).float(),
            "utterance_start": torch.tensor([s.start for s in kept], dtype=torch.int64),
            "pose": torch.from_numpy(np.concatenate(poses)).float(),
            "head_rotation": torch.from_numpy(track["rotation"][rows]).float(),
            "eyes": torch.from_numpy(track["openness"][rows]).float(),
            "frame_index": torch.from_numpy(rows).long(),
            "source_frame": torch.from_numpy(track["source_frame"][rows]).long(),
            "mouth_open": torch.from_numpy(track["mouth_open"][rows]).float(),
            "level_db": torch.from_numpy(level_db[rows]).float(),
        }
        report["av_lag"] = av_lag(track["mouth_open"][rows], level_db[rows])
        metadata = {"feature_kind": FEATURE_KIND, "feature_dim": int(features.shape[1]),
                    "fps": int(fps) if float(fps).is_integer() else float(fps), "space": SPACE_NAME,
                    "source_file": os.path.basename(path), **provenance, "terms": TERMS,
                    "audio_source": sound.source, "sample_rate": sound.sample_rate, "beta_0_rule": BETA_0_RULE,
                    "pose_channels": "yaw pitch roll tx ty tz (offsets from the utterance's first frame)",
                    "eyes": "openness (subject's left, right): ~1 open, ~0 closed",
                    "gates": {"min_score": min_score, "max_yaw": gates.MAX_YAW, "max_pitch": gates.MAX_PITCH,
                              "pixel_cut": gates.PIXEL_CUT, "landmark_cut": gates.LANDMARK_CUT,
                              "silence_db": gates.SILENCE_DB, "min_seconds": min_seconds},
                    "clip_frames": T, "frame_gates": frame_gates, "segment_gates": segment_gates,
                    "av_lag": report["av_lag"]}
        meshes = {"canonical": torch.from_numpy(track["canonical"][rows]),
                  "frame_index": torch.from_numpy(rows).long()}
    wall = time.time() - started
    report["wall_seconds"] = round(wall, 2)
    report["seconds_per_frame"] = round(wall / T, 4)
    shard.write(out_dir, name, tensors, metadata or {}, meshes, report)
    log.info("%s: %d of %d frames kept in %d utterances (%.1f s), %.3f s/frame, audio: %s", name, kept_frames, T,
             len(kept), kept_frames / fps, wall / T, sound.source)
    return report
