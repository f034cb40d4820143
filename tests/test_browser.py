"""The dashboard in a real browser: `streamlit run app.py` as a subprocess, driven by headless Chromium
through Playwright, the way a person uses it.

One test: upload the sample squat through the file uploader, wait for the analysis, the metrics and
the charts, then step the frame slider with the keyboard and check the frame shown follows; then
open comparison mode, upload a reference lifter's clip, and check one phase slider drives both viewers.
Screenshots go to $SQUAT_SCREENSHOTS when set (the README's docs/app_results.png comes from here),
else to the test's tmp_path.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`) and the `playwright`
Python package (requirements-dev.txt); `playwright install` is never needed. `.ci/run` installs
both, so CI runs this test; elsewhere it is skipped, saying which one is missing.
"""
import contextlib
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import cut_clip

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing (pip install -r requirements-dev.txt)"
)
expect = sync_api.expect

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO / "bench"))
from light_session import LightSession  # noqa: E402  (bench/: how bench_hosted.py times a host's answers)

CLIP = REPO / "samples" / "squat_side.mp4"
REFERENCE = REPO / "tests" / "data" / "synth_side_short" / "clip.mp4"  # another framing of a rendered squat
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # the machine's network may be closed: without these Chromium keeps retrying refused connections
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1500}  # the metrics, the frame viewer, its charts and the rep table
START_TIMEOUT_S = 90  # server up and answering /_stcore/health
PAGE_TIMEOUT_MS = 90_000  # first page load, widget reruns
ANALYSIS_TIMEOUT_MS = 240_000  # upload + analysis of the sample clip (~15 s alone on 2 idle cores)
SLIDER_STEPS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def streamlit_app(root: Path, env: dict[str, str], port: int, *options: str):
    """`streamlit run app.py` on `port` with its data in root/data; yields (url, log path)."""
    log = root / "streamlit.log"
    env = dict(os.environ, SQUAT_DATA_DIR=str(root / "data"), **env)
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false",
               # no file watcher: edits to the checkout during the run (or screenshots written into docs/)
               # must not put a "File change. Rerun" prompt on the page or rerun the app
               "--server.fileWatcherType", "none", "--server.runOnSave", "false", *options]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode} before answering:\n{log_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer {url}/_stcore/health in {START_TIMEOUT_S} s:\n{log_tail(log)}")
            time.sleep(0.3)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app as on a laptop, with an empty data folder."""
    with streamlit_app(tmp_path_factory.mktemp("browser"), {}, free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SQUAT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settle(page) -> None:
    """Wait until Streamlit has finished its rerun and no toast covers the page."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=PAGE_TIMEOUT_MS)  # "Running…"
    expect(page.locator("[data-stale=true]")).to_have_count(0, timeout=PAGE_TIMEOUT_MS)  # rerun finished
    toasts = page.get_by_test_id("stToast")
    try:
        expect(toasts).to_have_count(0, timeout=12_000)  # toasts close themselves after a few seconds
    except AssertionError:
        pass  # only cosmetics for the screenshot


def image_loaded(page) -> None:
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=stImage] img');"
        " return i !== null && i.complete && i.naturalWidth > 0; }",
        timeout=PAGE_TIMEOUT_MS,
    )


def frame_number(caption: str) -> int:
    """The frame index from the viewer's caption, "frame 77 · 2.57 s · rep 1 · …"."""
    first = caption.split("·")[0].strip()
    assert first.startswith("frame "), caption
    return int(first.removeprefix("frame "))


def test_upload_analyse_and_step_frames(server, browser, shots):
    url, log = server
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # expect's own default is 5 s: too short on a busy machine
    try:
        # 1. The welcome page.
        page.goto(url)
        expect(page.get_by_role("button", name="Try a sample clip")).to_be_visible()
        expect(page.get_by_test_id("stFileUploader")).to_be_visible()

        # 2. Upload a real squat clip through the sidebar's file uploader ("Video of your set").
        page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(CLIP)

        # 3. The analysis runs (progress bar), then the results: header, metrics, frame viewer, charts.
        expect(page.get_by_role("heading", name=CLIP.name)).to_be_visible(timeout=ANALYSIS_TIMEOUT_MS)
        metrics = page.get_by_test_id("stMetric")
        expect(metrics.filter(has_text="reps")).to_have_count(1, timeout=ANALYSIS_TIMEOUT_MS)
        reps = metrics.filter(has_text="reps").get_by_test_id("stMetricValue").inner_text().strip()
        assert reps.isdigit() and int(reps) >= 1, f"reps metric shows {reps!r}"
        for label in ("depth (mean)", "below parallel", "tempo (s)"):
            expect(metrics.filter(has_text=label)).to_have_count(1)
        charts = page.get_by_test_id("stVegaLiteChart")
        expect(charts.locator("canvas, svg").first).to_be_visible()  # vega-embed has drawn
        # the time charts (angles, moment arms) and the depth chart; they appear one after another
        expect(charts.nth(1)).to_be_visible()
        slider = page.get_by_test_id("stSlider").get_by_role("slider", name="Frame")
        expect(slider).to_have_count(1)
        caption = page.get_by_test_id("stImageCaption").filter(has_text=re.compile(r"^frame \d+ ·"))
        expect(caption).to_have_count(1)
        image_loaded(page)
        settle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.screenshot(path=str(shots / "app_results.png"))

        # 4. Step the frame slider with the keyboard: the frame, its caption and the chart cursor follow.
        before = int(slider.input_value())
        assert frame_number(caption.inner_text()) == before
        forward = before + SLIDER_STEPS <= int(slider.get_attribute("max"))
        slider.focus()
        for _ in range(SLIDER_STEPS):
            page.keyboard.press("ArrowRight" if forward else "ArrowLeft")
        after = before + SLIDER_STEPS if forward else before - SLIDER_STEPS
        expect(slider).to_have_value(str(after))
        expect(page.get_by_test_id("stSliderThumbValue")).to_have_text(str(after))
        expect(caption).to_contain_text(f"frame {after} ·")  # the fragment reran with the new frame
        image_loaded(page)
        settle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.screenshot(path=str(shots / "app_frame_stepped.png"))

        # 5. Comparison mode: upload a reference lifter's clip, then one phase slider drives both viewers.
        page.get_by_text("Compare with a reference lifter", exact=True).click()
        expander = page.get_by_test_id("stExpander").filter(has_text="Upload a reference clip")
        expander.get_by_text("Upload a reference clip").click()
        expander.locator("input[type=file]").set_input_files(REFERENCE)
        captions = page.get_by_test_id("stImageCaption")
        yours = captions.filter(has_text=re.compile(r"^you · phase"))
        theirs = captions.filter(has_text=re.compile(r"^reference · phase"))
        expect(theirs).to_have_count(1, timeout=ANALYSIS_TIMEOUT_MS)
        expect(yours).to_have_count(1)
        expect(theirs).to_contain_text("phase 0.50")  # both start at the bottom of the rep
        phase = page.get_by_test_id("stSlider").get_by_role("slider", name=re.compile(r"^Phase of the rep"))
        phase.focus()
        for _ in range(SLIDER_STEPS):
            page.keyboard.press("ArrowLeft")
        expect(theirs).to_contain_text("phase 0.47")  # the reference follows the slider...
        expect(yours).not_to_contain_text("phase 0.50")  # ...and so does your frame
        page.get_by_text("Ghost", exact=True).click()
        expect(charts.filter(has_text="reference").first).to_be_visible()  # the overlaid you-vs-reference charts
        image_loaded(page)
        settle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.screenshot(path=str(shots / "app_comparison.png"), full_page=True)
    except Exception as error:
        with contextlib.suppress(sync_api.Error):  # the page itself may be gone
            page.screenshot(path=str(shots / "app_failure.png"))
        raise AssertionError(f"{error}\n--- streamlit log ---\n{log_tail(log)}") from error
    finally:
        page.close()


# --------------------------------------------------------------------------- hosted for a gym


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    """The app as a share host runs it ($SQUAT_HOSTED=1, two worker processes), with a login: a real
    OpenID Connect provider on this machine (oidc-provider-mock) in the [auth] secrets section."""
    provider = pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is missing "
                                   "(pip install -r requirements-dev.txt)")
    root = tmp_path_factory.mktemp("hosted")
    port = free_port()
    with provider.run_server_in_thread() as idp:
        secrets = root / "secrets.toml"
        secrets.write_text("[auth]\n"
                           f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
                           f'cookie_secret = "{os.urandom(16).hex()}"\n'
                           'client_id = "squat"\nclient_secret = "squat"\n'
                           f'server_metadata_url = "http://localhost:{idp.server_port}/.well-known/openid-configuration"\n')
        env = {"SQUAT_HOSTED": "1", "SQUAT_WORKERS": "2"}
        with streamlit_app(root, env, port, "--secrets.files", str(secrets)) as running:
            yield running


SPORTS2D = REPO / "tests" / "data" / "sports2d_crouch.mp4"  # two short clips of real people (BSD-3-Clause)
BENS = REPO / "tests" / "data" / "pose2sim_cam01.mp4"
LANDING = range(40, 56)  # sports2d_crouch's frames with the person landing in a crouch (found in every one)


@pytest.fixture(scope="module")
def annas(tmp_path_factory) -> Path:
    """Anna's clip: the landing of sports2d_crouch, cut out (16 frames of 80). What the hosted test
    asserts (both analyses finish, who sees which) does not depend on a clip's length, and the whole
    clip (a small person, so a large network input; the first 38 frames are the flip) took the most
    of its time."""
    return cut_clip(SPORTS2D, tmp_path_factory.mktemp("anna") / "sports2d_landing.mp4", LANDING)


def upload(page, clip: Path) -> None:
    page.get_by_test_id("stFileUploader").first.locator("input[type=file]").set_input_files(clip)


def expect_listed(page, mine: Path, theirs: Path) -> None:
    """The sidebar's past analyses list `mine` and not `theirs`."""
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name=mine.name, exact=True)).to_have_count(1)
    expect(sidebar.get_by_role("button", name=theirs.name, exact=True)).to_have_count(0)


def test_hosted_two_lifters_at_once_each_see_only_their_own(hosted, browser, shots, annas):
    """Anna (not signed in) and Ben (signed in through the host's login) upload different clips at
    the same moment: both finish; each lists and opens only their own; the other's link is refused;
    a refresh keeps Anna's, and her private link opens it on another device."""
    url, log = hosted
    anna_browser, ben_browser, phone = (browser.new_context(viewport=VIEWPORT) for _ in range(3))
    anna, ben = anna_browser.new_page(), ben_browser.new_page()
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    try:
        anna.goto(url)
        ben.goto(url)
        ben.get_by_role("button", name="Sign in").click()  # to the provider's form, then back
        ben.locator("input[name=sub]").fill("ben")
        ben.get_by_role("button", name="Authorize").click()
        expect(ben.get_by_text("Signed in as")).to_be_visible()
        expect(anna.get_by_role("button", name="Sign in")).to_be_visible()

        upload(anna, annas)
        upload(ben, BENS)
        for page, clip in ((anna, annas), (ben, BENS)):
            expect(page.get_by_role("heading", name=clip.name)).to_be_visible(timeout=ANALYSIS_TIMEOUT_MS)
        expect_listed(anna, annas, BENS)
        expect_listed(ben, BENS, annas)
        anna.screenshot(path=str(shots / "hosted_anna.png"))

        anna.reload()  # the same browser: its cookie keeps Anna's analyses
        expect(anna.get_by_role("heading", name=annas.name)).to_be_visible()
        expect_listed(anna, annas, BENS)
        key = re.search(r"[?&]open=([^&]+)", anna.url).group(1)
        ben.goto(f"{url}/?open={key}")  # Anna's analysis by its key: refused
        expect(ben.get_by_text("That analysis is private")).to_be_visible()
        expect_listed(ben, BENS, annas)  # Ben's own, as before

        link = anna.get_by_test_id("stCaptionContainer").filter(has_text="Private link").get_by_role("link")
        private = phone.new_page()
        private.goto(url + "/" + link.get_attribute("href").lstrip("/"))
        expect(private.get_by_role("heading", name=annas.name)).to_be_visible()
        for page in (anna, ben, private):
            expect(page.get_by_test_id("stException")).to_have_count(0)

        # Anna's page without a browser (bench/light_session.py: how `bench_hosted.py --light-pages`
        # times the server's answers): her cookie lists hers and not Ben's; a click opens it.
        light = LightSession(url, {c["name"]: c["value"] for c in anna_browser.cookies()})
        try:
            assert light.wait(lambda: annas.name in light.buttons, timeout_s=60), light.error or light.buttons
            assert BENS.name not in light.buttons
            answer = light.click(annas.name, annas.name)
            assert light.wait(lambda: math.isfinite(answer.finished_s), timeout_s=60), light.error
            assert answer.heading_s <= answer.finished_s
        finally:
            light.close()
    except Exception as error:
        for name, page in (("anna", anna), ("ben", ben)):
            with contextlib.suppress(sync_api.Error):
                page.screenshot(path=str(shots / f"hosted_failure_{name}.png"))
        raise AssertionError(f"{error}\n--- streamlit log ---\n{log_tail(log)}") from error
    finally:
        for context in (anna_browser, ben_browser, phone):
            context.close()
