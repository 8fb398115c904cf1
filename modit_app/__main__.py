"""python -m modit_app COMMAND [ARGS]: the pack's programs, run outside ComfyUI (from the repository root).

Each command but `batch` loads the whole pack under one name first (pack.py), so the nodes and the library it
runs are the same modules ComfyUI would use. `batch` needs only the standard library.
"""
import importlib
import logging
import os
import sys

# command -> (module under modit_app, what it does)
COMMANDS = {
    "generate": ("cli", "portrait + speech -> talking-head mp4, by running a bundled workflow"),
    "batch": ("batch.run", "queue many (portrait, speech) pairs on ComfyUI servers (standard library only)"),
    "train": ("train", "train a DiT on corpus shards (torchrun -m modit_app train ... for several GPUs)"),
    "train-blink": ("train_blink", "train the blink mapping net on motion tracks"),
    "train-mouth": ("train_mouth", "train the learned mouth (mouth_net) on self-reenactment crops of real clips"),
    "train-opening": ("train_opening", "train the mouth-opening regressor blended into the DiT's sampled mouth"),
    "evaluate": ("evaluate", "held-out lip-sync figures of a DiT checkpoint (JSON on stdout)"),
    "corpus": ("corpus", "generate the synthetic eSpeak training corpus"),
    "ship": ("ship", "ship a DiT trained on the synthetic corpus, with its provenance metadata"),
    "ship-real": ("ship_real", "ship a DiT trained on synthetic + real shards, with its terms and figures"),
    "data": ("data", "real talking videos -> training shards (extract | build)"),
    "convert-whisper": ("convert_whisper", "OpenAI Whisper base (CTranslate2 model.bin) -> the bundled speech encoder file"),
    "derive-canonical": ("derive_canonical", "derive the bundled canonical neutral face mesh"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name.ljust(width)}  {about}" for name, (_, about) in COMMANDS.items()]
    return "usage: python -m modit_app COMMAND [ARGS]   (COMMAND --help for its options)\n\n" + "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        known = not argv or argv[0] in ("-h", "--help")
        sys.stderr.write(("" if known else f"unknown command {argv[0]!r}\n") + _usage() + "\n")
        return 0 if known else 2
    module = COMMANDS[argv[0]][0]
    if argv[0] == "batch":  # standard library only: no torch, no pack
        program = importlib.import_module(f"{__package__}.{module}")
    else:
        from .pack import load_pack

        program = importlib.import_module(f"{load_pack().__name__}.modit_app.{module}")
    try:
        return program.main(argv[1:]) or 0
    except (ValueError, FileNotFoundError) as error:
        # Bad input (a checkpoint that is no safetensors file, a missing folder): our messages name the problem and
        # the fix, and a traceback above one buries it. This variable, or -v / --verbose where a command has it
        # (`generate` re-raises its own bad-input errors then), shows where it was raised.
        if os.environ.get("MODIT_TRACEBACK") or {"-v", "--verbose"} & set(argv[1:]):
            raise
        sys.stderr.write(f"error: {error}\n(MODIT_TRACEBACK=1 shows where it was raised)\n")
        return 2


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown, which spends about 0.4 s of a 2-core CPU unloading torch after a
    `generate` run has finished (its mp4 and --timings file are closed by then); logs and streams are flushed first.
    Under a profiler or a coverage tracer the interpreter exits as usual, so that they can write their files."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    status = main(sys.argv[1:])
    if sys.argv[1:2] == ["generate"]:
        exit_now(status)
    sys.exit(status)
