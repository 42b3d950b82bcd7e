"""The Gradio demo in a real browser (Debian's chromium, headless, driven by Selenium), its API by
gradio_client, and its command-line guards."""

import gc
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest
from gradio_client import Client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from lyrics.models import DEFAULT_MODEL
from scorer.ratings import RatingsStore

from .conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app")
    db, log = folder / "ratings.sqlite", folder / "server.log"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--db", str(db)], cwd=ROOT,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    assert proc.poll() is None, log.read_text()
    yield f"http://127.0.0.1:{port}/", db, log
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, "the browser test needs Debian's chromium and chromium-driver: make browser"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,2200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


def test_write_rate_and_find_the_rating_in_the_database(app, browser, tmp_path):
    url, db, log = app
    browser.get(url)
    wait = WebDriverWait(browser, 120)
    topic = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#topic textarea, #topic input")))
    topic.send_keys("月光")
    browser.find_element(By.CSS_SELECTOR, "#generate-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#candidates .tc-card")) == 4)
    cards = browser.find_elements(By.CSS_SELECTOR, "#candidates .tc-card")
    assert all(len(card.find_elements(By.TAG_NAME, "ruby")) == 28 for card in cards)  # 7A 7A 7B 7A, every char
    assert "syllables ✓" in cards[0].text
    overall = [float(re.search(r"overall (\d\.\d)", card.text).group(1)) for card in cards]  # the shipped scorer
    assert overall == sorted(overall, reverse=True)  # all pass every check: ranked by the scorer
    browser.find_element(By.CSS_SELECTOR, "#rate-btn").click()
    wait.until(lambda d: "Saved rating" in d.find_element(By.CSS_SELECTOR, "#rate-status").text)
    rows = RatingsStore(db).ratings()
    assert len(rows) == 1 and rows[0]["model"] == "tiny" and '"topic": "月光"' in rows[0]["prompt"]
    assert len(rows[0]["lyrics"].split("\n")) == 4 and rows[0]["overall"] == 3
    # Lock a line of the first candidate, rewrite the rest: every new candidate keeps it, the rest is new.
    def plain_text():
        return browser.find_element(By.CSS_SELECTOR, "#plain textarea").get_attribute("value")

    before = plain_text()
    kept = before.split("#1\n")[1].split("\n")[0]
    assert "candidate-1\n.json" in browser.find_element(By.CSS_SELECTOR, "#downloads").text  # the exports
    browser.find_elements(By.CSS_SELECTOR, "#lock-lines input[type=checkbox]")[0].click()
    browser.find_element(By.CSS_SELECTOR, "#rewrite-rest-btn").click()
    wait.until(lambda d: plain_text() != before)
    blocks = [block.split("\n") for block in plain_text().split("\n\n") if block.startswith("#")]
    assert len(blocks) == 4 and all(lines[1] == kept for lines in blocks)  # "#k", then the kept first line
    assert any(lines[2:] != before.split("#1\n")[1].split("\n\n")[0].split("\n")[1:] for lines in blocks)
    # the rhyme book beside the editor shows a group's characters
    browser.find_element(By.CSS_SELECTOR, "#rhyme-group input").send_keys("江阳\n")
    wait.until(lambda d: "江阳" in d.find_element(By.CSS_SELECTOR, "#rhyme-book").text)
    assert "光" in browser.find_element(By.CSS_SELECTOR, "#rhyme-book").text

    # A mistake shows beside the button that caused it, leaves what is on the page, and is one server log line.
    structure = browser.find_element(By.CSS_SELECTOR, "#structure textarea, #structure input")
    structure.clear()
    structure.send_keys("0A")
    browser.find_element(By.CSS_SELECTOR, "#generate-btn").click()
    wait.until(lambda d: "has 0 syllables" in d.find_element(By.CSS_SELECTOR, "#write-status").text)
    assert "Saved rating" in browser.find_element(By.CSS_SELECTOR, "#rate-status").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#candidates .tc-card")) == 4  # the candidates stay
    server = log.read_text()
    assert "write: structure: '0A' has 0 syllables" in server and "Traceback" not in server
    structure.clear()
    structure.send_keys("7A 7A 7B 7A")
    browser.execute_script("window.scrollTo(0, 0)")
    shot = os.environ.get("TIANCI_SCREENSHOT") or str(tmp_path / "demo.png")
    browser.save_screenshot(shot)
    with open(shot, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def _status(driver, element_id: str) -> str:
    """A status line's words, without gradio's progress overlay ("processing | 0.4s") while a request runs."""
    return driver.execute_script(
        "const copy = document.getElementById(arguments[0]).cloneNode(true);"
        "copy.querySelectorAll('[data-testid=status-tracker]').forEach(tracker => tracker.remove());"
        "return copy.textContent.trim();", element_id)


def _fits_sideways(driver) -> bool:
    """No horizontal scroll: the page, and the Write form's candidates / temperature / seed row itself."""
    return driver.execute_script(
        "const page = document.documentElement, row = document.querySelector('#sampling-row');"
        "return page.scrollWidth <= page.clientWidth && row.scrollWidth <= row.clientWidth;")


RUBY_GAPS = """return [...document.querySelectorAll('#candidates .tc-line')].flatMap(line => {
  const boxes = [...line.querySelectorAll('rt')].map(rt => rt.getBoundingClientRect());
  return boxes.slice(1).filter((box, i) => Math.abs(box.top - boxes[i].top) < 2)  // the same visual row
    .map((box, i) => box.left - boxes[i].right);
});"""


def test_errors_are_sentences_beside_their_buttons_and_the_page_fits_1280(app, browser, tmp_path):
    """A truncated MIDI and a rating before any lyrics each say, beside their button, in one sentence, what to
    change (no bare "Error" anywhere); the next success clears them. At 1280 px nothing scrolls sideways, the
    romanization over the characters keeps a gap between readings, and Compare with one model explains itself."""
    url, _, log = app
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for note in (60, 62, 64, 65, 67):
        track += [mido.Message("note_on", note=note, velocity=80, time=0),
                  mido.Message("note_off", note=note, velocity=0, time=480)]
    whole = tmp_path / "whole.mid"
    midi.save(whole)
    cut = tmp_path / "cut.mid"
    cut.write_bytes(whole.read_bytes()[:-12])  # the last note's bytes missing: a download that stopped early

    browser.set_window_size(1280, 1000)
    browser.get(url)
    wait = WebDriverWait(browser, 120)
    topic = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#topic textarea, #topic input")))
    topic.send_keys("海")
    assert _fits_sideways(browser)

    browser.find_element(By.CSS_SELECTOR, "#rate-btn").click()
    wait.until(lambda d: _status(d, "rate-status"))
    assert _status(browser, "rate-status") == "⚠ Generate candidates first, then rate one."

    browser.find_element(By.XPATH, "//button[contains(., 'Melody')]").click()
    midi_input = (By.CSS_SELECTOR, "#midi input[type=file]")  # rendered once the accordion has opened
    wait.until(ec.presence_of_element_located(midi_input)).send_keys(str(cut))
    wait.until(lambda d: "cut" in d.find_element(By.CSS_SELECTOR, "#midi").text)
    assert _fits_sideways(browser)  # the melody accordion open too
    browser.find_element(By.CSS_SELECTOR, "#generate-btn").click()
    wait.until(lambda d: _status(d, "write-status"))
    message = _status(browser, "write-status")
    assert message.startswith("⚠ MIDI file cut.mid: not a readable MIDI file") and message.endswith(".")
    assert "--midi" not in message and "/tmp" not in message and "\n" not in message  # the page's words, one line
    assert not browser.find_elements(By.XPATH, "//*[normalize-space(text())='Error']")  # no bare "Error" anywhere
    assert "write: MIDI file cut.mid: not a readable" in log.read_text() and "Traceback" not in log.read_text()

    browser.find_element(By.CSS_SELECTOR, "#midi button[aria-label=Clear]").click()
    wait.until(ec.presence_of_element_located(midi_input)).send_keys(str(whole))  # the upload box again
    wait.until(lambda d: "whole" in d.find_element(By.CSS_SELECTOR, "#midi").text)
    browser.find_element(By.CSS_SELECTOR, "#generate-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#candidates .tc-card")
               or _status(d, "write-status") not in ("", message))
    assert not _status(browser, "write-status")  # the success clears its own error ...
    wait.until(lambda d: not _status(d, "rate-status"))  # ... and the now stale one beside Rate
    card = browser.find_element(By.CSS_SELECTOR, "#candidates .tc-card")
    assert len(card.find_elements(By.TAG_NAME, "ruby")) == 5  # the whole melody: one line of five notes
    gaps = browser.execute_script(RUBY_GAPS)
    assert gaps and min(gaps) >= 4, gaps  # readings apart, not run together as "men5man4man4"
    assert _fits_sideways(browser)

    browser.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Analyze')]").click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#analyze-btn"))).click()
    wait.until(lambda d: _status(d, "analyze-status"))
    assert _status(browser, "analyze-status") == "⚠ Paste some lyrics to analyze."
    long_line = "春眠不觉晓处处闻啼鸟" * 6
    browser.find_element(By.CSS_SELECTOR, "#analyze-text textarea").send_keys(long_line)
    browser.find_element(By.CSS_SELECTOR, "#analyze-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#analyze-lines ruby")) == len(long_line))
    assert not _status(browser, "analyze-status") and _fits_sideways(browser)  # cleared; the long line wraps

    browser.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Compare')]").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#compare-needs-two").is_displayed())
    assert "Compare needs two models" in _status(browser, "compare-needs-two")
    assert "--models" in _status(browser, "compare-needs-two")
    assert not browser.find_elements(By.CSS_SELECTOR, "#compare-btn")  # no form that can only fail
    browser.set_window_size(1440, 2200)


def test_api_endpoints_generate_and_analyze(app):
    client = Client(app[0], verbose=False)
    html, plain, _ = client.predict("yue", "海港", "", "5A 5A", "", "", "", None, 2, 0.9, 3, "tiny",
                                    "漁船", api_name="/generate")  # the session state stays on the server
    assert plain.startswith("keywords: 漁船") and "\n\n#1\n" in plain  # the user's keyword leads the plan
    assert html.count('class="tc-card"') == 2
    assert html.count('class="tc-badge tc-score"') == 2 * 4  # four aspect scores a candidate
    tune = "5 5 6 5 / 1' 7 6 5"
    _, plain, _ = client.predict("yue", "海港", "", "7A 7A 7B 7A", "", "", tune, None, 1, 0.9, 3, "tiny", "",
                                 api_name="/generate")  # the preset's structure yields to the melody's lines
    assert [len(x) for x in plain.split("#1\n")[1].split("\n")] == [4, 4]
    _, summary, annotation = client.predict("床前明月光，疑是地上霜。", "cmn", api_name="/analyze")
    assert "AA" in summary and annotation["lines"][0]["rhyme"] == "江阳"
    _, summary, annotation = client.predict("野火燒不盡，春風吹又生", "yue", api_name="/analyze")
    assert "read as **literary** Cantonese" in summary and annotation["register"] == "literary"
    assert annotation["lines"][1]["final_romanization"] == "sang1"
    with pytest.raises(Exception, match="structure: '0A' has 0 syllables"):  # shown in the page, no trace
        client.predict("cmn", "月", "", "0A", "", "", "", None, 1, 0.9, 1, "tiny", "", api_name="/generate")
    for other in (str(DEFAULT_MODEL), "models/./tiny", "Qwen/Qwen3-0.6B"):  # only the listed names, no paths
        with pytest.raises(Exception, match=r"unknown model .*: choose one of tiny|not in the list of choices"):
            client.predict("cmn", "月", "", "5A", "", "", "", None, 1, 0.9, 1, other, "", api_name="/generate")
    hostile = [  # what an API caller may send: each refused with its reason, none a traceback in the log
        ("cmn", "月", "长" * 100_000, "5A", "", "", "", None, 1, 0.9, 1, "tiny", ""),  # a 100k-character genre
        ("cmn", "月" * 10_000, "", "5A", "", "", "", None, 1, 0.9, 1, "tiny", ""),
        ("xx", "月", "", "5A", "", "", "", None, 1, 0.9, 1, "tiny", ""),
        ("cmn", "月", "", "5A", "", "", "", None, 99, 0.9, 1, "tiny", ""),
        ("cmn", "月", "", "5A", "", "", "", None, 1, -1, 1, "tiny", ""),
        ("cmn", "月", "", "5A", "", "", "", None, 1, 0.9, -5, "tiny", ""),
        ("cmn", "\ud800月", "", "5A", "", "", "1 2 3 9", None, 1, 0.9, 1, "tiny", "\x00"),
        ("cmn", "月", "", "5A", "", "", "1" + "'" * 7 + " 2 3 4 5", None, 1, 0.9, 1, "tiny", ""),
    ]
    for inputs in hostile:
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its AppError or a validation error
            client.predict(*inputs, api_name="/generate")
    server = app[2].read_text()  # each mistake one log line, no traceback, no 100k echo
    assert "generate: unknown model 'Qwen/Qwen3-0.6B': choose one of tiny" in server
    assert "Traceback" not in server, server[-4000:]
    assert "长" * 1000 not in server


@pytest.mark.parametrize(("args", "message"), [
    (["--auth", "nopassword"], "--auth must be USER:PASS"),
    (["--models", "models/tny"], "--models: cannot load model 'models/tny': no such folder"),
    (["--models", "models/scorer-tiny"], "'models/scorer-tiny' as a generator: it is a Qwen3ForSequenceClassification"),
])
def test_app_bad_arguments_are_one_line(args, message):
    out = subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and message in out.stderr and "Traceback" not in out.stderr


def test_rewrite_one_line_keeps_all_the_others(tmp_path):
    sys.path.insert(0, str(ROOT))
    from tianci import demo as demo_app

    demo = demo_app.Demo({"tiny": str(DEFAULT_MODEL)}, tmp_path / "ratings.sqlite")
    form = ("cmn", "月光", "", "5A 5A 5B 5A", "", "", "", None, 3, 0.9, 1, "tiny", "", "温柔", "")  # ... mood, register
    first = demo.write(*form, [])
    state, history = first[2], first[7]
    chosen = state["candidates"][1].split("\n")
    again = demo.rewrite_line(*form, history, state, "2", "3")  # candidate 2, its line 3 written anew
    assert len(again[7]) == 2 and again[7][-1]["kept"] == ["1", "2", "4"]
    for lyrics in again[2]["candidates"]:
        lines = lyrics.split("\n")
        assert [lines[i] for i in (0, 1, 3)] == [chosen[i] for i in (0, 1, 3)]
    assert len({lyrics.split("\n")[2] for lyrics in again[2]["candidates"]}) > 1  # line 3 is written, not copied
    with pytest.raises(demo_app.Mistake, match="lock at least one line"):
        demo.rewrite_rest(*form, history, state, "1", [])


def test_export_files_stay_in_one_folder_that_keeps_only_the_newest_writes(tmp_path):
    sys.path.insert(0, str(ROOT))
    from tianci import demo as demo_app

    demo = demo_app.Demo({"tiny": str(DEFAULT_MODEL)}, tmp_path / "ratings.sqlite")
    form = ("cmn", "月光", "", "5A 5A", "", "", "", None, 1, 0.9, 1, "tiny", "", "", "")
    files = demo.write(*form, [])[6]
    root = Path(files[0]).parent.parent
    assert Path(files[0]).is_file() and root.name.startswith("tianci-exports-")
    folders = [demo.export_folder() for _ in range(demo_app.EXPORTS_KEPT + 5)]
    assert not Path(files[0]).exists() and sorted(root.iterdir()) == sorted(folders[5:])  # a long-running server
    del demo
    gc.collect()
    assert not root.exists()  # nothing left in the temporary folder once the Demo is gone


def test_page_statuses_are_sentences_and_bugs_are_not_called_mistakes(tmp_path, caplog):
    sys.path.insert(0, str(ROOT))
    from tianci import demo as demo_app

    def refused(*_):
        raise demo_app.Mistake("lock at least one line to keep")

    def broken(*_):
        raise KeyError("a bug")

    stale = demo_app.error_status("write lyrics first")
    assert demo_app.shown_beside(refused, 0)() == (
        '<span class="tc-error">⚠ Lock at least one line to keep.</span>')
    # a bug: a sentence that does not blame the input, and its traceback in the server log
    with caplog.at_level("ERROR", logger="tianci.app"):
        *kept, status = demo_app.shown_beside(broken, 2)()
    assert kept == [demo_app.gr.update()] * 2 and "not in what you entered" in status
    assert "KeyError: 'a bug'" in caplog.text
    # a success empties its own line, clears a neighbour's stale error and keeps a neighbour's message
    written = demo_app.shown_beside(lambda x: (x, x), 2, related=2)("ok", stale, "Saved rating #1 for candidate 1.")
    assert written == ("ok", "ok", "", "", demo_app.gr.update())
    failed = demo_app.shown_beside(refused, 2, related=1)("ok", stale)
    assert failed[:2] == (demo_app.gr.update(),) * 2 and "Lock at least" in failed[2] and failed[3] == {
        "__type__": "update"}

    @demo_app.user_errors
    def buggy():
        raise ValueError("int() of a bug")

    with pytest.raises(ValueError, match="a bug"):  # not turned into a "mistake" the user cannot fix
        buggy()
    demo = demo_app.Demo({"tiny": str(DEFAULT_MODEL)}, tmp_path / "ratings.sqlite")
    form = ("cmn", "月光", "", "5A", "", "", "", None, 1, float("nan"), 1, "tiny", "")
    with pytest.raises(demo_app.Mistake, match="temperature: nan is not a positive number"):
        demo.generate(*form)


def test_ruby_keeps_each_reading_apart_with_every_reading_on_hover():
    sys.path.insert(0, str(ROOT))
    from tianci import demo as demo_app

    page = demo_app.render_lines("們慢慢", "yue")
    assert re.findall(r"<rt>([^<]*)</rt>", page) == ["mun4", "maan6", "maan2"]  # one reading a character
    assert page.count('title="maan2/maan6"') == 2  # every reading it can have, on hover
    css = re.search(r"\.tc-line ruby \{([^}]*)\}", demo_app.CSS).group(1)
    assert "margin: 0 0.12em" in css  # a gap between neighbours' readings (measured in the browser test)
    assert "`tiny`" in demo_app.compare_needs_two(["tiny"]) and "--models" in demo_app.compare_needs_two(["tiny"])


def test_the_server_log_folds_gradios_refusals_and_keeps_real_tracebacks():
    import io
    import traceback

    from gradio.exceptions import Error

    from tianci.demo import RefusalLog

    sink = io.StringIO()
    log = RefusalLog(sink)
    for error in (Error("Value 99 is greater than maximum value 8."), KeyError("a bug")):
        try:
            raise error
        except Exception:
            traceback.print_exc(file=log)
    log.write("plain line\n")
    lines = sink.getvalue().splitlines()
    assert lines[0] == "gradio refused: 'Value 99 is greater than maximum value 8.'"
    assert lines[1] == "Traceback (most recent call last):" and lines[-2] == "KeyError: 'a bug'"
    assert lines[-1] == "plain line"
