"""Integration tier: web/modit.js in headless Chromium against a real ComfyUI 0.27.

A motion track made without the DiT is loaded by MoDiT Load Motion and passed to MoDiT Save Motion in a graph
queued from the page. After execution both nodes must carry the summary (`node.moditMotion`), show the clip
duration in their title and have its curves drawn under them on the canvas (checked by pixel colours, and a
screenshot is kept in /tmp for a human look).
"""
import json
import math
import os

import pytest
import torch

from comfyui_modit.modit.face.components import COMPONENT_NAMES, JAW_OPEN, SPACE_NAME
from comfyui_modit.modit.motion.track_files import save_motion
from comfyui_modit.modit.types import Motion

from .chromium import Chromium, find_chromium
from .comfyui_server import ComfyServer, comfyui_env

ENV, WHY = comfyui_env()
CHROMIUM = find_chromium()
pytestmark = [pytest.mark.integration, pytest.mark.skipif(ENV is None, reason=WHY),
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary found (install Debian's 'chromium' "
                                                           "or set CHROMIUM_BINARY) to test web/modit.js")]

SCREENSHOT = "/tmp/modit_web_extension.png"
FPS, FRAMES = 25.0, 300  # a 12.0 s clip
TRACK = "web_test_track"
# The colours web/modit.js draws each curve in (its COLOURS table); each must show up under the nodes.
CURVE_COLOURS = {"mouth open": (0xff, 0x7a, 0x59), "eye closure": (0x6f, 0xb6, 0xff), "yaw (deg)": (0x9b, 0xe2, 0x7a)}


def _test_motion() -> Motion:
    """Speech-like jaw, three blinks and a slow head turn: every curve the extension plots has visible shape."""
    t = torch.arange(FRAMES, dtype=torch.float32) / FPS
    expression = torch.zeros(FRAMES, len(COMPONENT_NAMES))
    expression[:, JAW_OPEN] = 0.45 + 0.35 * torch.sin(2 * math.pi * 1.5 * t)
    eye_closure = torch.zeros(FRAMES, 2)
    for blink in (50, 150, 250):
        eye_closure[blink - 3:blink + 4] = torch.tensor([0.3, 0.7, 1.0, 1.0, 1.0, 0.7, 0.3]).unsqueeze(1)
    pose = torch.zeros(FRAMES, 6)
    pose[:, 0] = torch.deg2rad(12 * torch.sin(2 * math.pi * t / 6))  # yaw
    pose[:, 1] = torch.deg2rad(5 * torch.cos(2 * math.pi * t / 4))  # pitch
    pose[:, 2] = torch.deg2rad(3 * torch.sin(2 * math.pi * t / 3))  # roll
    return Motion(expression=expression, pose=pose, eye_closure=eye_closure, fps=FPS, space=SPACE_NAME)


def _ui_graph(track_choice: str) -> dict:
    """A UI-format workflow: MoDiT Load Motion -> MoDiT Save Motion (the output node)."""
    return {
        "last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {},
        "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}},
        "links": [[1, 1, 0, 2, 0, "MODIT_MOTION"]],
        "nodes": [
            {"id": 1, "type": "MoDiTLoadMotion", "pos": [120, 140], "size": [360, 90], "flags": {}, "order": 0,
             "mode": 0, "inputs": [], "outputs": [{"name": "motion", "type": "MODIT_MOTION", "links": [1]}],
             "properties": {}, "widgets_values": [track_choice]},
            {"id": 2, "type": "MoDiTSaveMotion", "pos": [620, 140], "size": [360, 90], "flags": {}, "order": 1,
             "mode": 0, "inputs": [{"name": "motion", "type": "MODIT_MOTION", "link": 1}],
             "outputs": [{"name": "motion", "type": "MODIT_MOTION", "links": None}],
             "properties": {}, "widgets_values": ["web_test_saved"]},
        ],
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root, python = ENV
    instance = ComfyServer(root, python, tmp_path_factory.mktemp("comfyui"))
    # A returning user: no first-run template dialog over the canvas.
    settings_dir = os.path.join(instance.workdir, "user", "default")
    os.makedirs(settings_dir, exist_ok=True)
    with open(os.path.join(settings_dir, "comfy.settings.json"), "w") as f:
        json.dump({"Comfy.TutorialCompleted": True}, f)
    save_motion(_test_motion(), TRACK, directory=instance.input_dir)  # before the page asks for /object_info
    with instance as running:
        yield running


@pytest.fixture(scope="module")
def page(server):
    with Chromium(CHROMIUM) as browser:
        tab = browser.page()
        try:
            tab.call("Page.navigate", url=server.url + "/")
            tab.wait_for("window.app && window.app.graph && window.app.canvas && "
                         "window.app.extensions.some(e => e.name === 'modit.motionCurves')", 120,
                         "ComfyUI page with the modit.motionCurves extension registered")
            yield tab
        finally:
            tab.close()


def test_server_lists_the_extension(server):
    extensions = server.get("/extensions")
    assert any(path.endswith("/modit.js") and "comfyui-modit" in path for path in extensions), extensions


def test_extension_registers_in_the_page(page):
    names = page.evaluate("window.app.extensions.map(e => e.name)")
    assert "modit.motionCurves" in names
    errors = [text for kind, text in page.console if kind in ("error", "exception") and "modit" in str(text)]
    assert not errors, errors


def _plot_pixels(page, node_id):
    """How many pixels of each curve colour lie in the plot area under a node on the canvas."""
    return page.evaluate(f"""(() => {{
        const app = window.app, node = app.graph.getNodeById({node_id});
        app.canvas.setDirty(true, true);
        app.canvas.draw(true, true);
        const canvas = app.canvas.canvas, ratio = canvas.width / canvas.clientWidth;
        const plotTop = node.pos[1] + node.size[1] - 155, plotLeft = node.pos[0] + 10;
        const [x0, y0] = app.canvas.ds.convertOffsetToCanvas([plotLeft, plotTop]);
        const [x1, y1] = app.canvas.ds.convertOffsetToCanvas([plotLeft + node.size[0] - 20, plotTop + 150]);
        const image = canvas.getContext("2d").getImageData(
            Math.round(x0 * ratio), Math.round(y0 * ratio), Math.round((x1 - x0) * ratio), Math.round((y1 - y0) * ratio));
        const colours = {json.dumps(CURVE_COLOURS)};
        const counts = Object.fromEntries(Object.keys(colours).map(k => [k, 0]));
        for (let i = 0; i < image.data.length; i += 4) {{
            for (const [name, [r, g, b]] of Object.entries(colours)) {{
                if (Math.abs(image.data[i] - r) < 40 && Math.abs(image.data[i + 1] - g) < 40
                    && Math.abs(image.data[i + 2] - b) < 40) counts[name]++;
            }}
        }}
        return {{counts, width: image.width, height: image.height}};
    }})()""")


def test_executed_nodes_show_duration_and_curves(server, page):
    track_choice = f"{TRACK}.safetensors [input]"
    offered = page.evaluate("fetch('/object_info/MoDiTLoadMotion').then(r => r.json())"
                            ".then(i => i.MoDiTLoadMotion.input.required.track)"
                            # V3 dropdowns are served as ["COMBO", {"options": [...]}] (V1: [[...], {...}])
                            ".then(t => t[0] === 'COMBO' ? t[1].options : t[0])")
    assert track_choice in offered, f"the server does not offer the test track: {offered}"

    page.evaluate(f"window.app.loadGraphData({json.dumps(_ui_graph(track_choice))}).then(() => true)")
    assert page.evaluate("window.app.graph.getNodeById(1).widgets[0].value") == track_choice
    page.evaluate("window.app.queuePrompt(0).then(() => true)", timeout=60)
    try:
        page.wait_for("window.app.graph.getNodeById(1).moditMotion && window.app.graph.getNodeById(2).moditMotion",
                      90, "modit_motion results on both nodes")
    finally:
        page.screenshot(SCREENSHOT)

    for node_id, title in ((1, "MoDiT Load Motion"), (2, "MoDiT Save Motion")):
        node = page.evaluate(f"(n => ({{title: n.title, size: Array.from(n.size), motion: n.moditMotion}}))"
                             f"(window.app.graph.getNodeById({node_id}))")
        summary = node["motion"]
        assert summary["frames"] == FRAMES and summary["fps"] == FPS and summary["duration"] == pytest.approx(12.0)
        assert summary["space"] == SPACE_NAME
        assert set(summary["curves"]) == {"mouth open", "eye closure", "yaw (deg)", "pitch (deg)", "roll (deg)"}
        assert max(summary["curves"]["eye closure"]) == pytest.approx(1.0)  # the blinks survive the round trip
        assert max(summary["curves"]["yaw (deg)"]) == pytest.approx(12.0, abs=0.1)
        assert node["title"] == f"{title} [12.0 s]", node["title"]
        assert node["size"][1] >= 150, f"node {node_id} was not grown to make room for the plot: {node['size']}"

        drawn = _plot_pixels(page, node_id)
        for name, count in drawn["counts"].items():
            # drawn curves leave 220-870 pixels of their colour in the 340x150 plot (Chromium 156); the legend
            # label alone leaves a few dozen, and nothing is there when the plot is not drawn
            assert count > 100, f"node {node_id}: the {name!r} curve is not drawn under the node: {drawn}"

    # A second result (re-run, another track) replaces the duration in the title instead of stacking it.
    title = page.evaluate("(n => { n.onExecuted({modit_motion: [{...n.moditMotion, duration: 3.25}]}); return n.title; })"
                          "(window.app.graph.getNodeById(2))")
    assert title == "MoDiT Save Motion [3.3 s]", title
