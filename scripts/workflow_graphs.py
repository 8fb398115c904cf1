"""The bundled workflows, described once; scripts/build_workflows.py writes each in UI and API format."""
from graph_builder import Graph

PORTRAIT, SPEECH = "portrait.png", "speech.wav"  # copy samples/portrait.png and samples/speech.wav to ComfyUI/input
WAV2LIP_URL = "https://huggingface.co/Nekochu/Wav2Lip/resolve/main/wav2lip_gan.pth"


def _front(g: Graph, x0=0):
    """LoadImage + LoadAudio (+ Load Audio Encoder) -> Encode Audio, Extract 3DMM, Load DiT: the start every graph
    shares. The default DiT (embedded v5) hears the built-in mel beside Whisper base's features."""
    image = g.add("LoadImage", (x0, 0), image=PORTRAIT)
    audio = g.add("LoadAudio", (x0, 380), audio=SPEECH)
    encoder = g.add("MoDiTLoadAudioEncoder", (x0, 560), encoder="built-in whisper base + mel")
    encode = g.add("MoDiTEncodeAudio", (x0 + 360, 380), audio=(audio, "AUDIO"), fps=25.0,
                   audio_encoder=(encoder, "audio_encoder"))
    face = g.add("MoDiTExtract3DMM", (x0 + 360, 0), image=(image, "IMAGE"))
    dit = g.add("MoDiTLoadDiT", (x0 + 360, 640))
    return image, audio, encode, face, dit


def _motion(g: Graph, dit, encode, face, x, y=200, sampler="ddim", steps=10, title=None):
    sample = g.add("MoDiTSampleExpression", (x, y), title=title, dit_model=(dit, "dit_model"),
                   audio_features=(encode, "audio_features"), face=(face, "face"), seed=0, steps=steps, sampler=sampler)
    blink = g.add("MoDiTBlinkPose", (x + 360, y), motion=(sample, "motion"), face=(face, "face"),
                  audio_features=(encode, "audio_features"), seed=0)
    return blink


def _video(g: Graph, frames, encode, x, prefix, y=200):
    video = g.add("CreateVideo", (x, y), images=frames, fps=(encode, "fps"), audio=(encode, "audio"))
    g.add("SaveVideo", (x + 340, y), video=(video, "VIDEO"), filename_prefix=prefix)


def basic() -> Graph:
    g = Graph("modit_basic", "MoDiT: portrait + speech -> talking head")
    _, _, encode, face, dit = _front(g)
    blink = _motion(g, dit, encode, face, 740)
    render = g.add("MoDiTFlowRender", (1460, 200), face=(face, "face"), motion=(blink, "motion"))
    _video(g, (render, "frames"), encode, 1820, "MoDiT/basic")
    g.note("**MoDiT basic.** Put a portrait and a speech file in ComfyUI/input (the pack's samples/ folder has "
           "portrait.png and speech.wav), pick them in the two loaders, press Queue. Change the seed on "
           "Sample Expression and Blink & Pose for other motion. A portrait caught mid-word whose mouth never "
           "closes: raise close_parted_lips on Sample Expression to 0.5.", (0, -220))
    return g


def wav2lip_reference() -> Graph:
    g = Graph("modit_wav2lip_reference", "MoDiT with a Wav2Lip lip reference")
    _, _, encode, face, dit = _front(g)
    blink = _motion(g, dit, encode, face, 740)
    loader = g.add("MoDiTLoadWav2Lip", (740, 640), model_name="wav2lip_gan.pth", properties={"models": [
        {"name": "wav2lip_gan.pth", "url": WAV2LIP_URL, "directory": "wav2lip"}]})
    lips = g.add("MoDiTWav2LipReference", (1100, 640), wav2lip_model=(loader, "wav2lip_model"), face=(face, "face"),
                 audio_features=(encode, "audio_features"))
    render = g.add("MoDiTFlowRender", (1460, 200), face=(face, "face"), motion=(blink, "motion"),
                   mouth_reference=(lips, "lip_reference"))
    _video(g, (render, "frames"), encode, 1820, "MoDiT/wav2lip")
    g.note("**Wav2Lip lip reference.** Needs wav2lip_gan.pth (or wav2lip.pth) in ComfyUI/models/wav2lip or "
           "models/modit; the front end offers the download. Wav2Lip's weights are for research and personal "
           "use only (not commercial): check their licence. Without the file, use the basic workflow.", (740, 900))
    return g


def upscale() -> Graph:
    g = Graph("modit_upscale", "MoDiT, then a 2x upscale before the video")
    _, _, encode, face, dit = _front(g)
    blink = _motion(g, dit, encode, face, 740)
    render = g.add("MoDiTFlowRender", (1460, 200), face=(face, "face"), motion=(blink, "motion"), output_size="256")
    scaled = g.add("ImageScaleBy", (1820, 200), image=(render, "frames"), upscale_method="lanczos", scale_by=2.0)
    _video(g, (scaled, "IMAGE"), encode, 2180, "MoDiT/upscaled")
    g.note("Renders at 256 px and upscales 2x with core ImageScaleBy. For a learned upscaler, see "
           "modit_upscale_model (core UpscaleModelLoader + ImageUpscaleWithModel).", (1460, -60))
    return g


def upscale_model() -> Graph:
    g = Graph("modit_upscale_model", "MoDiT, then a learned upscaler before the video")
    _, _, encode, face, dit = _front(g)
    blink = _motion(g, dit, encode, face, 740)
    render = g.add("MoDiTFlowRender", (1460, 200), face=(face, "face"), motion=(blink, "motion"), output_size="256")
    model = g.add("UpscaleModelLoader", (1820, 0), model_name="RealESRGAN_x2.pth")
    scaled = g.add("ImageUpscaleWithModel", (1820, 200), upscale_model=(model, "UPSCALE_MODEL"), image=(render, "frames"))
    _video(g, (scaled, "IMAGE"), encode, 2180, "MoDiT/upscaled_model")
    g.note("Put any ESRGAN-family upscaler (e.g. a 2x model) in ComfyUI/models/upscale_models and pick it in "
           "the loader.", (1820, -200))
    return g


def compare_samplers() -> Graph:
    g = Graph("modit_compare_samplers", "MoDiT: Algorithm 1 (DDIM) vs ancestral DDPM from one audio")
    _, _, encode, face, dit = _front(g)
    fast = _motion(g, dit, encode, face, 740, y=0, sampler="ddim", steps=10, title="Algorithm 1 update (DDIM), 10 steps")
    ancestral = _motion(g, dit, encode, face, 740, y=420, sampler="ddpm", steps=50, title="Ancestral DDPM, 50 steps")
    for blink, y, name in ((fast, 0, "ddim"), (ancestral, 420, "ddpm")):
        render = g.add("MoDiTFlowRender", (1460, y), face=(face, "face"), motion=(blink, "motion"))
        _video(g, (render, "frames"), encode, 1820, f"MoDiT/compare_{name}", y=y)
    g.note("Same audio, same face, same seed: the top row samples with Algorithm 1's deterministic DDIM update in 10 "
           "steps, the bottom with stochastic ancestral DDPM in 50; both with Algorithm 1's bias injection phases. "
           "Compare the two videos.", (740, -220))
    return g


def long_audio_to_file() -> Graph:
    g = Graph("modit_long_audio_to_file", "MoDiT: long audio rendered straight to an mp4")
    _, _, encode, face, dit = _front(g)
    blink = _motion(g, dit, encode, face, 740)
    g.add("MoDiTRenderToVideo", (1460, 200), face=(face, "face"), motion=(blink, "motion"),
          audio_features=(encode, "audio_features"), filename_prefix="MoDiT/long")
    g.note("For minutes of audio: Render To Video streams frames into the mp4 as they are rendered, so memory "
           "does not grow with the clip's length. The file lands in ComfyUI/output/MoDiT.", (1460, -60))
    return g


ALL_GRAPHS = (basic, wav2lip_reference, upscale, upscale_model, compare_samplers, long_audio_to_file)
