"""Generation at scale on Ray: ``tianci batch --engine ray`` and the sampling step of ``tianci rs``
(``engine: {kind: ray}``).

Ray Data spreads the work (one row per chunk of specs or prompts) over a pool of actors, each holding one
generator and the scorer in its own Writer, loaded once (``num_gpus`` per actor on a GPU cluster), decoded by
Hugging Face or (``decoder: vllm``) a vLLM engine of its own in the actor's process. A chunk is
computed by the same function the local engine runs (``pipeline.batch.chunk_records``,
``pipeline.rs.sampling.prompt_records``) with the same seed, so the records are the local engine's; the driver
writes them as they come (one whole line each, synced), which keeps the local engine's contract: a kill loses only
unfinished chunks, a resume skips the ids already written, nothing is written twice. ``address`` joins a running
cluster (``ray start --head``); without one a local Ray starts on the cores this process may use. ``ray`` is the
optional extra ``pip install tianci[ray]``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator, Sequence

import ray
import ray.data

from lyrics.models import usable_cores
from lyrics.training.config import ConfigError

from .config import EngineConfig, ray_host_port
from .writer import Writer

CONNECT_TIMEOUT = 10.0  # seconds to wait for a cluster's address to answer


# A vLLM engine in an actor: world size 1 on the uniprocess executor, its engine core in the actor's process.
# vLLM would otherwise pick Ray's executor inside a placement group (and ask Ray for more resources) or spawn an
# engine-core process that imports vLLM again outside the actor's resources.
VLLM_ACTOR_OPTIONS = {"distributed_executor_backend": "uni", "tensor_parallel_size": 1}


class ChunkWorker:
    """One Ray actor: its own Writer (generator and scorer, decoded by ``decoder``: ``hf`` or ``vllm``), and the
    job that turns a task into records."""

    def __init__(self, generator: str, adapter: str | None, scorer: str | None, job: Callable, tasks: Sequence,
                 decoder: str = "hf"):
        options = VLLM_ACTOR_OPTIONS if decoder == "vllm" else {}
        self.writer = Writer.load(generator, adapter=adapter, scorer=scorer, engine=decoder, **options)
        self.job, self.tasks = job, tasks

    def __call__(self, batch: dict) -> dict:
        return {"records": [json.dumps(self.job(self.writer, *self.tasks[int(i)]), ensure_ascii=False)
                            for i in batch["id"]]}


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """A ConfigError within ``timeout`` seconds when nothing answers at a cluster ``address`` (Ray itself retries
    for minutes)."""
    if (host_port := ray_host_port(address)) is None:
        return
    try:
        socket.create_connection(host_port, timeout=timeout).close()
    except OSError as err:
        raise ConfigError(f"--address {address}: no Ray cluster answered within {timeout:g} s ({err.strerror or err}); "
                          "start one with `ray start --head` or leave --address out to run Ray here") from None


def start(config: EngineConfig) -> None:
    """Join the cluster at ``config.address``, or start a local Ray on the usable cores (once a process)."""
    if not ray.is_initialized():
        if config.address:
            check_reachable(config.address)
            ray.init(address=config.address, log_to_driver=False)
        else:
            ray.init(num_cpus=usable_cores(), include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # the local engine's order


def ray_engine(config: EngineConfig, generator: str, adapter: str | None,
               scorer: str | None) -> Callable[[Callable, Sequence], Iterator[list[dict]]]:
    """An engine for ``run_batch`` / ``sample_prompts``: a job and its tasks in, each task's records out, the job
    run on Ray actors holding ``generator`` (with ``adapter``) and ``scorer``."""
    def run(job: Callable, tasks: Sequence) -> Iterator[list[dict]]:
        if not tasks:
            return
        start(config)
        # rows from the driver (no read tasks to compete with the actors for the cores), one block a task
        rows = ray.data.from_items([{"id": i} for i in range(len(tasks))], override_num_blocks=len(tasks)).map_batches(
            ChunkWorker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(config.actors, len(tasks))),
            num_cpus=1, num_gpus=config.num_gpus,
            fn_constructor_kwargs={"generator": generator, "adapter": adapter, "scorer": scorer, "job": job,
                                   "tasks": list(tasks), "decoder": config.decoder})
        for row in rows.iter_rows():
            yield json.loads(row["records"])

    return run
