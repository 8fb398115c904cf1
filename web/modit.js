// ComfyUI-MoDiT front-end: draws a motion track's curves (mouth open, eye closure, head pose) and its duration
// under every node that reports "modit_motion" in its UI output (Sample Expression, Blink & Pose, motion tools).
import { app } from "../../scripts/app.js";

const COLOURS = {
  "mouth open": "#ff7a59",
  "eye closure": "#6fb6ff",
  "yaw (deg)": "#9be27a",
  "pitch (deg)": "#e2d67a",
  "roll (deg)": "#c48bff",
};
const PLOT_HEIGHT = 150;

function drawCurves(ctx, summary, x, y, width, height) {
  ctx.save();
  ctx.fillStyle = "#1b1b1b";
  ctx.fillRect(x, y, width, height);
  ctx.strokeStyle = "#444";
  ctx.strokeRect(x, y, width, height);
  const names = Object.keys(summary.curves);
  const band = (height - 22) / 2;
  names.forEach((name, index) => {
    const values = summary.curves[name];
    if (!values.length) return;
    // top band: mouth and eyes (0..1); bottom band: pose in degrees, symmetric around 0
    const isPose = name.includes("(deg)");
    const top = y + 4 + (isPose ? band + 4 : 0);
    const limit = isPose ? Math.max(2, ...names.filter((n) => n.includes("(deg)")).flatMap((n) => summary.curves[n].map(Math.abs))) : 1;
    ctx.strokeStyle = COLOURS[name] || "#ddd";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    values.forEach((v, i) => {
      const px = x + (i / Math.max(values.length - 1, 1)) * width;
      const norm = isPose ? 0.5 - v / (2 * limit) : 1 - Math.min(Math.max(v, 0), 1);
      const py = top + norm * (band - 4);
      if (i === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    });
    ctx.stroke();
    ctx.fillStyle = COLOURS[name] || "#ddd";
    ctx.font = "10px sans-serif";
    ctx.fillText(name, x + 4 + index * (width / names.length), y + height - 6);
  });
  ctx.fillStyle = "#ccc";
  ctx.font = "11px sans-serif";
  const text = `${summary.duration.toFixed(2)} s · ${summary.frames} frames @ ${summary.fps} fps`;
  ctx.fillText(text, x + width - ctx.measureText(text).width - 4, y + 12);
  ctx.restore();
}

app.registerExtension({
  name: "modit.motionCurves",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData.name.startsWith("MoDiT")) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const summary = message?.modit_motion?.[0];
      if (!summary) return;
      this.moditMotion = summary;
      this.title = this.title.replace(/ \[[0-9.]+ s\]$/, "") + ` [${summary.duration.toFixed(1)} s]`;
      const needed = this.computeSize()[1] + PLOT_HEIGHT + 10;
      if (this.size[1] < needed) this.setSize([Math.max(this.size[0], 320), needed]);
      this.setDirtyCanvas(true, true);
    };
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx) {
      onDrawForeground?.apply(this, arguments);
      if (!this.moditMotion || this.flags?.collapsed) return;
      const width = this.size[0] - 20;
      drawCurves(ctx, this.moditMotion, 10, this.size[1] - PLOT_HEIGHT - 5, width, PLOT_HEIGHT);
    };
  },
});
