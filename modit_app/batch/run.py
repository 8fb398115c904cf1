"""python -m modit_app batch: run an API workflow over many (portrait, speech) pairs on one or more ComfyUI servers.

    python -m modit_app batch workflows/api/modit_basic.json pairs/ --server http://127.0.0.1:8188 --out results/
    python -m modit_app batch workflows/api/modit_basic.json jobs.csv --server http://gpu1:8188 --server http://gpu2:8188

Each job's inputs are uploaded (never overwriting the server's files), its outputs get their own filename prefix,
and downloads go to --out under names that never replace an existing file. Failed jobs are retried.
"""
import argparse
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field

from .client import ComfyClient, PromptFailed, ServerUnreachable, output_files
from .jobs import Job, graph_for_job, jobs_from_csv, jobs_from_folder, write_new_file

log = logging.getLogger("modit_app.batch")


@dataclass
class Result:
    job: Job
    server: str = ""
    status: str = "pending"
    attempts: int = 0
    seconds: float = 0.0
    files: list = field(default_factory=list)
    error: str = ""
    moved_from: list = field(default_factory=list)  # servers that went down while running this job


@dataclass
class Batch:
    """What a batch run shares between its worker threads, and what it reports at the end."""
    template: dict
    results: dict  # job name -> Result
    out_dir: str
    retries: int
    run_tag: str
    on_finished: object = None  # callable(Result) called once per job when it is done or failed for good
    pending: queue.Queue = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)
    events: list = field(default_factory=list)  # plain sentences: servers lost, jobs moved
    live_servers: set = field(default_factory=set)

    def finished(self) -> bool:
        with self.lock:
            return all(r.status in ("done", "failed") for r in self.results.values())


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


def worker(client: ComfyClient, batch: Batch):
    """Take jobs until every job is finished; stop early (handing the job back) if this server goes down."""
    completed_here = 0
    while not batch.finished():
        try:
            job = batch.pending.get(timeout=0.5)
        except queue.Empty:
            continue  # another worker may still hand a job back
        result = batch.results[job.name]
        with batch.lock:
            result.attempts += 1
            result.server = client.url
        start = time.time()
        try:
            result.files = run_job(client, batch.template, job, batch.out_dir, batch.run_tag)
            result.status = "done"
            completed_here += 1
        except ServerUnreachable as error:
            if client.alive():  # a hiccup, not a dead server: an ordinary failed attempt
                _failed_attempt(batch, result, job, client, error)
            else:
                _server_lost(batch, result, job, client, error, completed_here)
                return
        except (PromptFailed, OSError, ValueError) as error:
            _failed_attempt(batch, result, job, client, error)
        finally:
            result.seconds += time.time() - start
        if result.status in ("done", "failed"):
            with batch.lock:
                done = sum(r.status in ("done", "failed") for r in batch.results.values())
            log.info("[%d/%d] %s: %s on %s", done, len(batch.results), job.name, result.status, client.url)
            if batch.on_finished is not None:
                batch.on_finished(result)


def _failed_attempt(batch: Batch, result: Result, job: Job, client: ComfyClient, error: Exception) -> None:
    result.error = str(error)
    if result.attempts <= batch.retries:
        result.status = "retrying"
        log.warning("%s failed on %s (attempt %d): %s", job.name, client.url, result.attempts, error)
        batch.pending.put(job)
    else:
        result.status = "failed"
        log.error("%s failed for good: %s", job.name, error)


def _server_lost(batch: Batch, result: Result, job: Job, client: ComfyClient, error: Exception,
                 completed_here: int) -> None:
    """The server stopped answering: the job goes back to the queue without spending a retry."""
    with batch.lock:
        batch.live_servers.discard(client.url)
        others = sorted(batch.live_servers)
        result.attempts -= 1
        result.moved_from.append(client.url)
        result.status = "pending" if others else "failed"
        result.error = f"{client.url} went down while running it ({error})"
        batch.events.append(f"{time.strftime('%H:%M:%S')} {client.url} stopped answering after {completed_here} "
                            f"job(s) here; {job.name} was running there and "
                            + (f"goes to {', '.join(others)}" if others else "has no server left"))
    log.error("%s is down (%s); %s", client.url, error, "moving its jobs to " + ", ".join(others) if others
              else "no server left")
    if others:
        batch.pending.put(job)
    elif batch.on_finished is not None:
        batch.on_finished(result)


def run_batch(template: dict, jobs_list: list[Job], servers: list[str], out_dir: str, retries: int = 1,
              per_server: int = 1, on_finished=None) -> Batch:
    """Run every job on the servers (per_server at a time each); returns the Batch with results and events."""
    batch = Batch(template, {job.name: Result(job) for job in jobs_list}, out_dir, retries,
                  time.strftime("%Y%m%d-%H%M%S"), on_finished)
    for job in jobs_list:
        batch.pending.put(job)
    batch.live_servers = set(servers)
    threads = [threading.Thread(target=worker, args=(ComfyClient(url), batch), daemon=True)
               for url in servers for _ in range(max(per_server, 1))]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        if not batch.live_servers and not batch.finished():
            break  # every server is gone: what is left cannot run
        time.sleep(0.2)
    for result in batch.results.values():
        if result.status not in ("done", "failed"):
            result.status = "failed"
            result.error = result.error or "no server left to run it"
    return batch


def summary_table(results: list[Result], events: list[str] = ()) -> str:
    rows = [("job", "status", "tries", "seconds", "server", "output / error")]
    for r in results:
        detail = ", ".join(os.path.basename(f) for f in r.files) if r.status == "done" else r.error[:120]
        if r.moved_from:
            detail += f" (moved from {', '.join(r.moved_from)})"
        rows.append((r.job.name, r.status, str(r.attempts), f"{r.seconds:.1f}", r.server, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    lines.extend(f"server lost: {event}" for event in events)
    done = sum(r.status == "done" for r in results)
    moved = sum(bool(r.moved_from) for r in results)
    lines.append(f"{done} done, {len(results) - done} failed" + (f", {moved} moved to another server" if moved else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modit_app batch", description=__doc__.split("\n\n")[0])
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
    batch = run_batch(template, jobs_list, args.server or ["http://127.0.0.1:8188"], args.out, args.retries,
                      args.per_server)
    results = batch.results
    print(summary_table(list(results.values()), batch.events))
    return 0 if all(r.status == "done" for r in results.values()) else 1

