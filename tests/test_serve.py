"""`tianci serve`: the lyrics server on real sockets (``http.client``), in-process with the tiny character model,
once with the shipped models/tiny and its scorer, and once as the real command in a subprocess."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.serve import MAX_BODY, LyricsServer
from pipeline.writer import Writer

ROOT = Path(__file__).resolve().parent.parent
SPEC = {"lang": "cmn", "topic": "月光", "structure": "5A 5A 5B 5A", "n": 2}
TOPICS = ("月光", "春雨", "海港", "离别", "故乡", "夜车", "秋风", "山城")


def call(server: LyricsServer, method: str, path: str, body: bytes | dict | list | None = None,
         headers: dict | None = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of one request on its own connection."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
    try:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if isinstance(body, dict | list) else body
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, json.loads(response.read().decode("utf-8")), dict(response.getheaders())
    finally:
        connection.close()


def in_parallel(server: LyricsServer, bodies: list[dict]) -> list[tuple[int, dict, dict]]:
    """Every body POSTed at once, one client thread each, answers in order."""
    answers: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def client(i: int) -> None:
        start.wait()
        answers[i] = call(server, "POST", "/v1/lyrics", bodies[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


@pytest.fixture(scope="module")
def writer(char_generator_dir) -> Writer:
    return Writer.load(str(char_generator_dir))


@pytest.fixture
def server(writer, char_generator_dir):
    """A started server on a free loopback port; a 0.2 s gather window, so requests sent together meet."""
    with LyricsServer(writer, model=str(char_generator_dir), port=0, gather=0.2) as running:
        yield running


def assert_answer(body: dict, n: int) -> None:
    assert len(body["candidates"]) == n
    assert body["lyrics"] in {c["lyrics"] for c in body["candidates"]}
    for candidate in body["candidates"]:
        assert {"lyrics", "checks", "tokens"} <= set(candidate)
        assert candidate["checks"]["structure"], candidate  # the constraint holds whatever the random model says
        assert [len(line) for line in candidate["lyrics"].split("\n")] == [5, 5, 5, 5]


def test_a_good_spec_is_answered_with_checked_candidates(server):
    status, body, headers = call(server, "POST", "/v1/lyrics", SPEC)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert_answer(body, 2)
    assert body["spec"] == SPEC
    status, body, _ = call(server, "POST", "/v1/lyrics", {k: v for k, v in SPEC.items() if k != "n"})
    assert status == 200 and body["spec"]["n"] == 4 and len(body["candidates"]) == 4  # n as tianci batch's


def test_concurrent_requests_are_batched(server):
    before = server.batcher.stats.writes
    answers = in_parallel(server, [{**SPEC, "topic": topic} for topic in TOPICS])
    assert [status for status, _, _ in answers] == [200] * 8
    for (_, body, _), topic in zip(answers, TOPICS, strict=True):
        assert body["spec"]["topic"] == topic
        assert_answer(body, 2)
    assert server.batcher.stats.writes - before < 8
    assert server.batcher.stats.largest > 1


def test_a_seeded_request_gets_the_same_candidates_alone_or_among_others(server, writer):
    seeded = {**SPEC, "seed": 7}
    status, alone, _ = call(server, "POST", "/v1/lyrics", seeded)
    assert status == 200
    answers = in_parallel(server, [seeded] + [{**SPEC, "topic": topic} for topic in TOPICS[1:]])
    assert all(status == 200 for status, _, _ in answers)
    assert answers[0][1] == alone
    # and what the Writer gives for that spec and seed in a call of its own (no request is in flight now)
    planned = writer.plan(seeded)
    direct = writer.write([planned], planned.n, seed=7)[0]
    assert [c["lyrics"] for c in alone["candidates"]] == [s.lyrics for s in direct]


def test_a_bad_spec_is_a_400_with_one_line_naming_the_field(server):
    status, body, _ = call(server, "POST", "/v1/lyrics", {**SPEC, "structure": "5A 5x"})
    assert status == 400 and body["error"].startswith("structure:") and "\n" not in body["error"]
    status, body, _ = call(server, "POST", "/v1/lyrics", {**SPEC, "colour": "red"})
    assert status == 400 and body["error"].startswith("unknown field 'colour'")
    status, body, _ = call(server, "POST", "/v1/lyrics", [SPEC])
    assert status == 400 and body["error"].startswith("spec must be a JSON object")


def test_an_unsatisfiable_spec_is_a_400_and_the_others_in_its_round_are_answered(server):
    """The character vocabulary has no 龘: the spec parses but cannot be met (the worker's check), alone."""
    bad = {**SPEC, "keep": "1=龘龘龘龘龘"}
    answers = in_parallel(server, [bad, SPEC, {**SPEC, "topic": "春雨"}])
    assert answers[0][0] == 400 and "龘" in answers[0][1]["error"] and "\n" not in answers[0][1]["error"]
    assert [status for status, _, _ in answers[1:]] == [200, 200]


def test_a_body_over_the_limit_is_413(server):
    status, body, _ = call(server, "POST", "/v1/lyrics", b"{" + b" " * MAX_BODY + b"}")
    assert status == 413 and str(MAX_BODY) in body["error"]


def test_a_body_that_is_not_json_is_400(server):
    status, body, _ = call(server, "POST", "/v1/lyrics", b'{"lang": "cmn", ')
    assert status == 400 and body["error"].startswith("body is not JSON")
    status, body, _ = call(server, "POST", "/v1/lyrics", b'{"topic": "\xff"}')
    assert status == 400 and body["error"].startswith("body is not UTF-8")


def test_health_models_and_unknown_paths(server, char_generator_dir):
    status, body, _ = call(server, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and body["model"] == Path(char_generator_dir).name
    assert body["scorer"] is None and {"queued", "served", "writes"} <= set(body)
    status, body, _ = call(server, "GET", "/v1/models")
    assert status == 200 and body["models"][0]["id"] == Path(char_generator_dir).name
    assert body["models"][0]["engine"] == "hf"
    status, body, _ = call(server, "GET", "/v2/anything")
    assert status == 404 and "/v1/lyrics" in body["error"]
    status, body, _ = call(server, "GET", "/v1/lyrics")
    assert status == 405


def test_a_full_queue_is_503_at_once(writer, char_generator_dir):
    """With the worker not running and its one-place queue taken, a request is refused, not left waiting."""
    from lyrics.decoding.spec import LyricSpec

    server = LyricsServer(writer, model=str(char_generator_dir), port=0, queue_size=1)
    accept = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    accept.start()
    try:
        waiting = server.batcher.submit(LyricSpec.from_dict(SPEC), SPEC)
        status, body, headers = call(server, "POST", "/v1/lyrics", SPEC)
        assert status == 503 and body["error"].startswith("busy") and headers["Retry-After"] == "1"
    finally:
        server.httpd.shutdown()
        accept.join()
        server.stop()
    assert "stopping" in str(waiting.exception(timeout=1))  # what was queued is answered on stop


def test_the_server_listens_on_loopback_by_default(writer, char_generator_dir):
    from tianci.cli import build_parser

    with LyricsServer(writer, model=str(char_generator_dir), port=0) as server:
        assert server.host == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


def test_the_shipped_model_answers_with_scores():
    """models/tiny with models/scorer-tiny, as `tianci serve` loads them by default: 4 x 7 syllables, n = 4."""
    from lyrics.models import DEFAULT_MODEL
    from scorer.model import DEFAULT_SCORER

    writer = Writer.load(str(DEFAULT_MODEL), scorer=str(DEFAULT_SCORER))
    with LyricsServer(writer, model=str(DEFAULT_MODEL), scorer=str(DEFAULT_SCORER), port=0) as server:
        status, body, _ = call(server, "POST", "/v1/lyrics", {"lang": "cmn", "topic": "月光",
                                                               "structure": "7A 7A 7B 7A", "seed": 1})
        health = call(server, "GET", "/health")[1]
    assert status == 200 and len(body["candidates"]) == 4 and body["spec"]["keywords"]
    assert all(c["checks"]["structure"] and set(c["scores"]) >= {"overall"} for c in body["candidates"])
    assert sum(c["checks"]["ok"] for c in body["candidates"]) >= 2
    assert health["model"] == "tiny" and health["scorer"] == "scorer-tiny"


def test_the_command_serves_and_warns_off_loopback(char_generator_dir):
    """The real `tianci serve`: it prints where it listens (127.0.0.1 by default) and answers there; a host that is
    not loopback gets a one-line warning (a TEST-NET address, which cannot be bound: a one-line error, exit 2)."""
    command = [sys.executable, "-m", "tianci.cli", "serve", "--model", str(char_generator_dir), "--scorer", "none"]
    process = subprocess.Popen([*command, "--port", "0"], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = process.stderr.readline()
        assert line.startswith("tianci serve: http://127.0.0.1:"), line
        url = line.split()[2]
        port = int(url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/health")
        assert json.loads(connection.getresponse().read())["status"] == "ok"
        connection.close()
    finally:
        process.terminate()
        process.wait(30)
    done = subprocess.run([*command, "--host", "192.0.2.1", "--port", "0"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 2, done.stderr
    assert lines[0].startswith("tianci serve: warning: listening on 192.0.2.1, not loopback")
    assert lines[1].startswith("tianci: error: cannot listen on 192.0.2.1:0")
