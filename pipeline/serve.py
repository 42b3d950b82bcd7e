"""``tianci serve``: one resident :class:`~pipeline.writer.Writer` behind a small HTTP API, concurrent requests
written together (micro-batching), on the Hugging Face engine or (``--engine vllm``) a vLLM engine, whose
continuous batching then decodes every row of a round together.

    POST /v1/lyrics   a spec as ``tianci batch`` reads it (``n`` defaults to 4)
                      → 200 {"spec", "lyrics", "candidates": [{"lyrics", "checks", "tokens", "scores"?}, ...]}
                      → 400 {"error"} a body that is not a JSON spec, a bad or unsatisfiable spec (one line)
                      → 411 no Content-Length, 413 a body over MAX_BODY, 503 the queue is full, 504 no answer in time
    GET  /health      → {"status": "ok", "model", "scorer", "queued", "served", "batches", "writes"}
    GET  /v1/models   → {"models": [{"id", "path", "engine", "scorer"}]}

Why one worker thread: the model is loaded once and the Writer's Decoder keeps caches (compiled constraints)
that are not safe to share between threads; a single worker owns the Writer, and request threads only read
and parse the body (``LyricSpec.from_dict``: a bad spec is answered at once, without waiting for the model).
The worker plans and checks each spec (an unsatisfiable one is a 400 of its own) and writes what it took from
the queue in one ``Writer.write`` call per group of equal ``n``, as ``pipeline.batch.chunk_records`` does:
rows of many requests go through the model together, which is where the throughput comes from.

Seeds: ``Writer.write(seed=...)`` seeds one ``torch.Generator`` for the whole call, so a request batched with
others draws different tokens than it would alone. A request with a ``seed`` is therefore written in a call of
its own, ``Writer.write([spec], n, seed=spec.seed)``: the same spec and seed give the same candidates whatever
else is in flight, and the same as ``tianci generate --seed S`` with the default sampling (and as
``tianci batch`` would not: batch seeds by chunk). Requests without a seed are batched, each call with a fresh
seed. On the vLLM engine every candidate row is seeded on its own (``lyrics.vllm_decoder``), so seeded requests
are batched with the rest and still written as they would be alone.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.spec import LyricSpec, SpecError
from phonetics import TianciError

from .candidates import Scored, ranked
from .config import DEFAULT_HOST, DEFAULT_PORT, MAX_BATCH, QUEUE_SIZE
from .writer import Writer

MAX_BODY = 64 * 1024  # bytes: a spec is a few hundred; a 64-line spec with kept lines well under this
DEFAULT_N = 4  # candidates for a spec without its own n, as tianci batch and tianci generate
GATHER_SECONDS = 0.005  # how long the worker waits for more requests once it has one
ANSWER_SECONDS = 300.0  # a request thread gives up (504) after this
MAX_DISCARD = 1024 * 1024  # an oversized body up to this is read and dropped, so the 413 reaches the client
SOCKET_SECONDS = 30.0  # a client that sends nothing for this long is dropped (no thread held forever)
STOP_POLL_SECONDS = 0.1  # how often an idle worker looks whether it should stop


class RequestError(TianciError):
    """A request answered with an HTTP error: ``status`` and a one-line message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(" ".join(message.split()))  # one line: JSON clients and logs read it whole
        self.status = status


@dataclass
class Job:
    """One request in the queue: its parsed spec, the fields it came with, and where its answer goes."""

    spec: LyricSpec
    fields: dict
    future: Future = field(default_factory=Future)


@dataclass
class Stats:
    """What the worker did; read by /health and by the tests (batched requests: fewer writes than requests)."""

    served: int = 0  # requests answered (200 or an error from the worker)
    batches: int = 0  # rounds: jobs taken from the queue together
    writes: int = 0  # Writer.write calls
    candidates: int = 0
    largest: int = 0  # most jobs in one round

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


def answer(job: Job, planned: LyricSpec, scored: list[Scored]) -> dict[str, Any]:
    """The 200 body: the request's fields (``n`` filled, the keyword plan the model was given), the best
    candidate by the one rank rule, and every candidate with its checks and scores (``tianci batch``'s record
    without ``id``; ``tianci generate --json``'s with ``lyrics``)."""
    fields = {**job.fields, **({"keywords": list(planned.keywords)} if planned.keywords else {})}
    return {"spec": fields, "lyrics": ranked(scored)[0].lyrics, "candidates": [s.to_dict() for s in scored]}


class MicroBatcher:
    """The one thread that uses the Writer: takes up to ``max_batch`` jobs from a bounded queue (waiting
    ``gather`` seconds for more once it has one) and writes them together; see the module's docstring."""

    def __init__(self, writer: Writer, max_batch: int = MAX_BATCH, queue_size: int = QUEUE_SIZE,
                 gather: float = GATHER_SECONDS):
        if max_batch < 1 or queue_size < 1:
            raise ValueError("max_batch and queue_size must be at least 1")
        self.writer, self.max_batch, self.gather = writer, max_batch, gather
        self.jobs: queue.Queue[Job] = queue.Queue(queue_size)
        self._stopping = threading.Event()
        self.stats = Stats()
        self._thread: threading.Thread | None = None

    def submit(self, spec: LyricSpec, fields: dict) -> Future:
        """Queue a parsed spec; its future gets the answer dict or a :class:`RequestError`. A full queue is a
        503 at once: a client retries later rather than every thread piling up behind the model."""
        job = Job(spec, fields)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE,
                               f"busy: {self.jobs.maxsize} requests already queued; retry shortly") from None
        return job.future

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="tianci-serve-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the round in progress, then answer what is still queued with 503."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout)
            self._thread = None
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            job.future.set_exception(RequestError(HTTPStatus.SERVICE_UNAVAILABLE, "the server is stopping"))

    def _take(self) -> list[Job] | None:
        """The next round's jobs (None: stop). Waits for the first; then takes what is queued, waiting at most
        ``gather`` seconds in all for more, up to ``max_batch``."""
        while True:
            if self._stopping.is_set():
                return None
            try:
                jobs = [self.jobs.get(timeout=STOP_POLL_SECONDS)]
                break
            except queue.Empty:
                continue
        deadline = time.monotonic() + self.gather
        while len(jobs) < self.max_batch:
            try:
                jobs.append(self.jobs.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return jobs

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            self.stats.batches += 1
            self.stats.largest = max(self.stats.largest, len(jobs))
            self.round(jobs)

    def round(self, jobs: list[Job]) -> None:
        """Plan and check every job (an error answers that job alone), then write: unseeded jobs of one ``n``
        in one call, each seeded job in a call of its own."""
        ready: list[tuple[Job, LyricSpec]] = []
        for job in jobs:
            try:
                planned = self.writer.plan(job.spec)
                self.writer.check(planned)
                ready.append((job, planned))
            except TianciError as err:
                self._fail(job, RequestError(HTTPStatus.BAD_REQUEST, str(err)))
            except Exception as err:  # a bug, not the request's fault: a 500, and the worker goes on
                self._fail(job, RequestError(HTTPStatus.INTERNAL_SERVER_ERROR,
                                             f"planning failed: {type(err).__name__}: {err}"))
        groups: dict[tuple[int, int | None, int], list[tuple[Job, LyricSpec]]] = {}
        for index, (job, planned) in enumerate(ready):
            alone = index if planned.seed is not None and self.writer.engine == "hf" else -1
            groups.setdefault((planned.n, planned.seed if alone >= 0 else None, alone), []).append((job, planned))
        for (count, seed, _), group in groups.items():
            self._write(group, count, seed)

    def _write(self, group: list[tuple[Job, LyricSpec]], count: int, seed: int | None) -> None:
        try:
            self.stats.writes += 1
            results = self.writer.write([planned for _, planned in group], count, seed=seed)
        except UnsatisfiableSpec as err:  # a hint the tokenizer cannot write: find whose, write the rest
            if len(group) == 1:
                self._fail(group[0][0], RequestError(HTTPStatus.BAD_REQUEST, str(err)))
            else:
                for item in group:
                    self._write([item], count, seed)
            return
        except Exception as err:  # the worker outlives a failed call; its requests get a 500 each
            for job, _ in group:
                self._fail(job, RequestError(HTTPStatus.INTERNAL_SERVER_ERROR,
                                             f"generation failed: {type(err).__name__}: {err}"))
            return
        for (job, planned), scored in zip(group, results, strict=True):
            self.stats.served += 1
            self.stats.candidates += len(scored)
            job.future.set_result(answer(job, planned, scored))

    def _fail(self, job: Job, error: RequestError) -> None:
        self.stats.served += 1
        job.future.set_exception(error)


class _HTTPServer(ThreadingHTTPServer):
    """The socket server, knowing its :class:`LyricsServer`; IPv6 when the host is an IPv6 address."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog: bursts of clients connect before the accept loop reaches them

    def __init__(self, address: tuple[str, int], app: LyricsServer):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, answers JSON; every error is ``{"error": "<one line>"}`` with its status."""

    protocol_version = "HTTP/1.1"
    timeout = SOCKET_SECONDS
    server: _HTTPServer

    def do_GET(self) -> None:
        app = self.server.app
        if self.path == "/health":
            self._send(HTTPStatus.OK, app.health())
        elif self.path == "/v1/models":
            self._send(HTTPStatus.OK, app.models())
        elif self.path == "/v1/lyrics":
            self._error(RequestError(HTTPStatus.METHOD_NOT_ALLOWED, "POST a spec to /v1/lyrics"))
        else:
            self._not_found()

    def do_POST(self) -> None:
        if self.path != "/v1/lyrics":
            self._not_found()
            return
        try:
            fields = self._body()
            spec = LyricSpec.from_dict(fields)
            future = self.server.app.batcher.submit(spec, fields)
            try:
                body = future.result(timeout=self.server.app.answer_seconds)
            except FutureTimeout:
                raise RequestError(HTTPStatus.GATEWAY_TIMEOUT, "no answer in time; the server is overloaded") from None
        except RequestError as err:
            self._error(err)
        except SpecError as err:
            self._error(RequestError(HTTPStatus.BAD_REQUEST, str(err)))
        else:
            self._send(HTTPStatus.OK, body)

    def _body(self) -> dict:
        """The request's JSON object, ``n`` filled; size first, so an oversized body is never read."""
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the spec with a Content-Length, not chunked")
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the spec with a Content-Length")
        if not length.strip().isdecimal():
            raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length {length!r} is not a number of bytes")
        if int(length) > MAX_BODY:
            self._discard(int(length))
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"body is {int(length)} bytes; a spec may have at most {MAX_BODY}")
        raw = self.rfile.read(int(length))
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not UTF-8 (byte {err.start + 1})") from None
        except json.JSONDecodeError as err:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not JSON ({err.msg} at line {err.lineno} "
                                                       f"column {err.colno})") from None
        if isinstance(data, dict) and "n" not in data:
            data = {**data, "n": DEFAULT_N}
        return data

    def _discard(self, length: int) -> None:
        """Read and drop a body that will not be used: closing a socket with unread data resets the connection,
        and the client would see a reset instead of the 413. Beyond ``MAX_DISCARD`` the connection is closed."""
        if length > MAX_DISCARD:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _not_found(self) -> None:
        self._error(RequestError(HTTPStatus.NOT_FOUND,
                                 f"no such path {self.path!r}: POST /v1/lyrics, GET /health, GET /v1/models"))

    def _error(self, err: RequestError) -> None:
        if err.status == HTTPStatus.LENGTH_REQUIRED:
            self.close_connection = True  # a body of unknown length would be taken for the next request
        self._send(err.status, {"error": str(err)})

    def _send(self, status: HTTPStatus, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", "1")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: Any) -> None:
        log = self.server.app.log
        if log is not None:
            log(f"{self.address_string()} {fmt % args}")


class LyricsServer:
    """A Writer served over HTTP: binds at construction (port 0: a free one), :meth:`start` runs the worker
    and the accept loop in threads (tests, benches), :meth:`serve_forever` in this one (the command line)."""

    def __init__(self, writer: Writer, *, model: str, scorer: str | None = None, host: str = DEFAULT_HOST,
                 port: int = DEFAULT_PORT, max_batch: int = MAX_BATCH, queue_size: int = QUEUE_SIZE,
                 gather: float = GATHER_SECONDS, answer_seconds: float = ANSWER_SECONDS,
                 log: Callable[[str], None] | None = None):
        self.model_path, self.scorer_path = model, scorer
        self.answer_seconds, self.log = answer_seconds, log
        self.batcher = MicroBatcher(writer, max_batch, queue_size, gather)
        self.httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self.httpd.server_address[0]

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": _name(self.model_path), "scorer": _name(self.scorer_path),
                "queued": self.batcher.jobs.qsize(), **self.batcher.stats.to_dict()}

    def models(self) -> dict[str, Any]:
        return {"models": [{"id": _name(self.model_path), "path": self.model_path, "engine": self.batcher.writer.engine,
                            "scorer": _name(self.scorer_path), "max_batch": self.batcher.max_batch}]}

    def start(self) -> LyricsServer:
        self.batcher.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tianci-serve-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C), then stop cleanly."""
        self.batcher.start()
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()
            self.batcher.stop()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()
        self.batcher.stop()

    def __enter__(self) -> LyricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _name(path: str | None) -> str | None:
    """A model's short name: its folder's (or hub id's) last part."""
    return None if path is None else str(path).rstrip("/").rsplit("/", 1)[-1]
