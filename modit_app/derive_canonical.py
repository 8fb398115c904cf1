"""`python -m modit_app derive-canonical OUT.safetensors`: derive the bundled canonical neutral face mesh.

How: modit/face/derive_canonical.py (the embedded PyTorch face stack on a public-domain portrait and its mirror).
"""
import argparse
import logging

from ..modit.checkpoints import save_checkpoint
from ..modit.face.derive_canonical import canonical_metadata, derive
from ..modit.face.mediapipe import FaceStack

log = logging.getLogger(__name__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app derive-canonical", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .safetensors file to write (the bundled one is modit/weights/face_canonical_mesh.safetensors)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    canonical, mirror = derive(FaceStack.load())
    save_checkpoint(args.out, {"canonical_mesh": canonical, "mirror_index": mirror}, canonical_metadata())
    log.info("wrote %s", args.out)
    return 0
