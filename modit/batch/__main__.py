"""python -m modit.batch: run an API workflow over many (portrait, speech) pairs on one or more ComfyUI servers.

    python -m modit.batch workflows/api/modit_basic.json pairs/ --server http://127.0.0.1:8188 --out results/
    python -m modit.batch workflows/api/modit_basic.json jobs.csv --server http://gpu1:8188 --server http://gpu2:8188

Each job's inputs are uploaded (never overwriting the server's files), its outputs get their own filename prefix,
and downloads go to --out under names that never replace an existing file. Failed jobs are retried.
"""
import argparse
import json
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field

from .client import ComfyClient, PromptFailed, output_files
from .jobs import Job, graph_for_job, jobs_from_csv, jobs_from_folder, write_new_file

log = logging.getLogger("modit.batch")


@dataclass
class Result:
    job: Job
    server: str = ""
    status: str = "pending"
    attempts: int = 0
    seconds: float = 0.0
    files: list = field(default_factory=list)
    error: str = ""


def run_job(client: ComfyClient, template: dict, job: Job, out_dir: str, run_tag: str) -> list[str]:
    image = client.upload(job.image)
    audio = client.upload(job.audio)
    graph = graph_for_job(template, image, audio, f"modit_batch/{run_tag}_{job.name}", job.seed)

    def progress(node, value, maximum):
        log.debug("%s: node %s %s/%s", job.name, node, value, maximum)

    entry = client.run(graph, on_progress=progress)
    saved = []
    for info in output_files(entry):
        content = client.download(info["filename"], info.get("subfolder", ""), info["type"])
        saved.append(write_new_file(out_dir, f"{job.name}_{os.path.basename(info['filename'])}", content))
    if not saved:
        raise PromptFailed(f"{client.url}: the prompt finished but saved no output file")
    return saved


def worker(client: ComfyClient, template: dict, jobs: queue.Queue, results: dict, out_dir: str, retries: int,
           run_tag: str, lock: threading.Lock):
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        result = results[job.name]
        result.attempts += 1
        result.server = client.url
        start = time.time()
        try:
            result.files = run_job(client, template, job, out_dir, run_tag)
            result.status = "done"
        except (PromptFailed, OSError, ValueError) as error:
            result.error = str(error)
            if result.attempts <= retries:
                result.status = "retrying"
                log.warning("%s failed on %s (attempt %d): %s", job.name, client.url, result.attempts, error)
                jobs.put(job)
            else:
                result.status = "failed"
                log.error("%s failed for good: %s", job.name, error)
        finally:
            result.seconds += time.time() - start
        with lock:
            done = sum(r.status in ("done", "failed") for r in results.values())
            log.info("[%d/%d] %s: %s", done, len(results), job.name, result.status)


def summary_table(results: list[Result]) -> str:
    rows = [("job", "status", "tries", "seconds", "server", "output / error")]
    for r in results:
        detail = ", ".join(os.path.basename(f) for f in r.files) if r.status == "done" else r.error[:120]
        rows.append((r.job.name, r.status, str(r.attempts), f"{r.seconds:.1f}", r.server, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    done = sum(r.status == "done" for r in results)
    lines.append(f"{done} done, {len(results) - done} failed")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("workflow", help="an API-format workflow (workflows/api/*.json)")
    parser.add_argument("pairs", help="a folder of image+audio files sharing names, or a CSV with columns image,audio[,name][,seed]")
    parser.add_argument("--server", action="append", help="ComfyUI URL; repeat for several (default http://127.0.0.1:8188)")
    parser.add_argument("--out", default="modit_batch_results", help="where downloaded outputs go (never overwritten)")
    parser.add_argument("--retries", type=int, default=1, help="extra tries for a failed job")
    parser.add_argument("--per-server", type=int, default=1, help="jobs in flight per server")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")

    with open(args.workflow) as f:
        template = json.load(f)
    if "nodes" in template:
        parser.error(f"{args.workflow} is a UI-format workflow; use its API-format twin in workflows/api/")
    jobs_list = jobs_from_csv(args.pairs) if args.pairs.lower().endswith(".csv") else jobs_from_folder(args.pairs)
    names = [j.name for j in jobs_list]
    if len(set(names)) != len(names):
        parser.error("two jobs share a name; give them distinct names in the CSV's name column")
    results = {job.name: Result(job) for job in jobs_list}
    jobs = queue.Queue()
    for job in jobs_list:
        jobs.put(job)
    run_tag = time.strftime("%Y%m%d-%H%M%S")
    lock = threading.Lock()
    threads = [threading.Thread(target=worker, args=(ComfyClient(url), template, jobs, results, args.out, args.retries, run_tag, lock))
               for url in (args.server or ["http://127.0.0.1:8188"]) for _ in range(max(args.per_server, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results.values():
        if result.status not in ("done", "failed"):
            result.status = "failed"  # every worker stopped (say, every server down) with this job re-queued
    print(summary_table(list(results.values())))
    return 0 if all(r.status == "done" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
