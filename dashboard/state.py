"""The dashboard's session state: every st.session_state key is named once, here.

Pages read and write state through these names, never through strings of their own. The string
values are part of the app's interface: tests (and future pages) set them by name.

Session state the app reads (tests and future pages may set these):
- "open_key" (`open_key`, `open_run`): store key of the analysis shown, mirrored in the URL as ?open=KEY.
- "job" (`job`, `follow_job`): id of the analysis job this session follows, mirrored in the URL as
  ?job=ID, so a refresh or another tab shows its progress, not a new analysis.
- "analyse_path" (`take_analyse_path`): path of a video to analyse on the next run as if it had been
  uploaded; read once, then removed. A test uses it to drive the analysis entry without a browser.
- "<slot>:<key>:frame" (`ViewerKeys.frame`): the frame viewer's frame for that analysis (slot "you").
- "you:<key>:compare" (`ViewerKeys.compare`): the "Compare with a reference lifter" toggle; the
  comparison's widgets (`CompareKeys`) are "compare:<key>:ref" (reference store key), ":you_rep" /
  ":ref_rep" (rep rows), ":method" (phase or dtw), ":ghost" (toggle), ":phase" (the synced slider,
  0..1) and ":upload" (a reference clip).
- "owner" (`owner`): hosted mode only ($SQUAT_HOSTED=1), this browser's owner token when nobody is
  signed in (kept in the "squat_owner" cookie, so a refresh or another tab finds the same analyses):
  the analyses it created are its own, and only those are listed or opened.
Sidebar widgets (`SIDEBAR`): "upload", "sample", "model", "side", "reanalyse", "sign_in" and
"sign_out" (hosted with a login), and per past analysis "open:<key>" and "delete:<key>".
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import streamlit as st

OPEN_KEY = "open_key"
OPEN_PARAM = "open"  # the URL's ?open=KEY
ANALYSE_PATH = "analyse_path"
OWNER = "owner"  # hosted mode: this browser's owner token (when nobody is signed in)
OWNER_COOKIE = "squat_owner"  # ...kept in the browser, so a refresh or a new tab is the same owner
OWNER_COOKIE_DAYS = 400  # the longest a browser keeps a cookie
OWNER_COOKIE_SET = "_owner_cookie_set"
HANDED_OVER = "_handed_over"  # this session's browser analyses went to the signed-in user
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
HOSTED_ENV = "SQUAT_HOSTED"
JOB = "job"  # id of the analysis job this session follows, mirrored in the URL as ?job=ID
HANDLED_UPLOAD = "_handled_upload"  # file_id of the sidebar upload last analysed
PREVIEWED = "_previewed"  # the followed job whose early numbers the page has switched to
VIDEO_METER = "_video_meter:{}"  # the render's ProgressMeter of a job shown early, by job id


@dataclass(frozen=True)
class SidebarKeys:
    """Widget keys of the sidebar (intake and past analyses)."""

    upload: str = "upload"
    sample: str = "sample"
    model: str = "model"
    side: str = "side"
    plate_cm: str = "plate_cm"
    reanalyse: str = "reanalyse"
    sign_in: str = "sign_in"
    sign_out: str = "sign_out"

    def open(self, run: str) -> str:
        return f"open:{run}"

    def delete(self, run: str) -> str:
        return f"delete:{run}"


SIDEBAR = SidebarKeys()


@dataclass(frozen=True)
class ViewerKeys:
    """Keys of one analysis's results; `slot` keeps them apart when two analyses share a page."""

    slot: str
    run: str

    def _key(self, name: str) -> str:
        return f"{self.slot}:{self.run}:{name}"

    @property
    def frame(self) -> str:
        return self._key("frame")

    @property
    def applied_rep(self) -> str:
        """The rep table row last applied to the frame (so a kept selection does not pin the slider)."""
        return self._key("applied_rep")

    @property
    def reps(self) -> str:
        return self._key("reps")

    @property
    def prev(self) -> str:
        return self._key("prev")

    @property
    def next(self) -> str:
        return self._key("next")

    @property
    def heat(self) -> str:
        return self._key("heat")

    @property
    def part(self) -> str:
        return self._key("part")

    @property
    def compare(self) -> str:
        return self._key("compare")

    def chart(self, index: int) -> str:
        return self._key(f"chart{index}")

    def download(self, name: str) -> str:
        return self._key(f"download:{name}")


@dataclass(frozen=True)
class CompareKeys:
    """Keys of the comparison of analysis `run` with a reference lifter."""

    run: str

    def _key(self, name: str) -> str:
        return f"compare:{self.run}:{name}"

    @property
    def upload(self) -> str:
        return self._key("upload")

    @property
    def handled_upload(self) -> str:
        return self._key("handled_upload")

    @property
    def ref(self) -> str:
        return self._key("ref")

    @property
    def you_rep(self) -> str:
        return self._key("you_rep")

    @property
    def ref_rep(self) -> str:
        return self._key("ref_rep")

    @property
    def method(self) -> str:
        return self._key("method")

    @property
    def phase(self) -> str:
        return self._key("phase")

    @property
    def ghost(self) -> str:
        return self._key("ghost")

    @property
    def proportions(self) -> str:
        return self._key("proportions")

    @property
    def summary(self) -> str:
        return self._key("summary")


# --------------------------------------------------------------------------- the open analysis


def open_key() -> Optional[str]:
    return st.session_state.get(OPEN_KEY)


def open_run(key: Optional[str]) -> None:
    """Show analysis `key` (None: none), keeping the URL in step so the page can be linked."""
    _set_mirrored(OPEN_KEY, OPEN_PARAM, key)


def open_from_url() -> None:
    """A new session opens the analysis its URL names; after that the session state leads."""
    _take_from_url(OPEN_KEY, OPEN_PARAM)


def _set_mirrored(key: str, param: str, value: Optional[str]) -> None:
    """A session value that the URL's ?param= carries too (removed from the URL with None)."""
    st.session_state[key] = value
    if value:
        st.query_params[param] = value
    else:
        st.query_params.pop(param, None)


def _take_from_url(key: str, param: str) -> None:
    """A new session starts from the URL's ?param=; after that the session state leads."""
    if key not in st.session_state and st.query_params.get(param):
        st.session_state[key] = st.query_params[param]


# --------------------------------------------------------------------------- clips to analyse


def take_analyse_path() -> Optional[Path]:
    """The path a test asked to analyse, once (it is removed as it is read)."""
    path = st.session_state.pop(ANALYSE_PATH, None)
    return Path(path) if path else None


def upload_is_new(file_id: str, key: str = HANDLED_UPLOAD) -> bool:
    return file_id != st.session_state.get(key)


def mark_upload_handled(file_id: str, key: str = HANDLED_UPLOAD) -> None:
    """Remember the upload, so that a failing clip is not retried on every rerun."""
    st.session_state[key] = file_id


def job() -> Optional[str]:
    """The analysis job this session follows: a refresh or a second tab with the URL follows it too."""
    _take_from_url(JOB, JOB)
    return st.session_state.get(JOB)


def follow_job(job_id: Optional[str]) -> None:
    """Follow job `job_id` (None: none), keeping the URL in step."""
    _set_mirrored(JOB, JOB, job_id)


def preview_shown(job_id: str) -> bool:
    """Whether the page has switched to job `job_id`'s early numbers (it does once: the lifter may
    open another analysis while the video is made)."""
    return st.session_state.get(PREVIEWED) == job_id


def mark_preview_shown(job_id: str) -> None:
    st.session_state[PREVIEWED] = job_id


def hosted() -> bool:
    """Hosted for many lifters ($SQUAT_HOSTED=1): each sees only their own analyses. Off on a laptop."""
    return os.environ.get(HOSTED_ENV, "") == "1"


def login_configured() -> bool:
    """Hosted with the host's login: an [auth] section in its secrets.toml (st.login over OIDC)."""
    return hosted() and st.secrets.load_if_toml_exists() and "auth" in st.secrets


def signed_in() -> bool:
    return login_configured() and bool(st.user.is_logged_in)


def owner() -> str:
    """Who this session's analyses belong to: "" on a laptop (one user, everything shown); hosted,
    the signed-in user where the host configured a login, else this browser."""
    if not hosted():
        return ""
    if signed_in():  # the issuer too: two identity providers may hand out the same subject
        return f"user:{st.user.get('iss', '')} {st.user.get('sub') or st.user.get('email')}"
    return browser_owner()


def browser_owner() -> str:
    """This browser's owner id: its cookie's token, or a new one (see remember_browser)."""
    if OWNER not in st.session_state:
        cookie = _owner_cookie()
        st.session_state[OWNER] = cookie or secrets.token_urlsafe(16)
    return f"browser:{st.session_state[OWNER]}"  # the prefix: a cookie can never name a signed-in user


def remember_browser() -> None:
    """Hosted: keep a new owner token in the browser's cookie, once per session."""
    token = browser_owner().removeprefix("browser:")
    if _owner_cookie() == token or st.session_state.get(OWNER_COOKIE_SET):
        return
    st.session_state[OWNER_COOKIE_SET] = True
    age = OWNER_COOKIE_DAYS * 86400
    st.sidebar.html(f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age={age}; SameSite=Lax';</script>",
                    unsafe_allow_javascript=True)


def take_hand_over() -> Optional[str]:
    """Signed in, the first time this session asks: the browser owner whose analyses the user now takes."""
    if not signed_in() or st.session_state.get(HANDED_OVER):
        return None
    st.session_state[HANDED_OVER] = True
    cookie = _owner_cookie()
    return f"browser:{cookie}" if cookie else None


def _owner_cookie() -> str:
    """The browser's owner token from its cookie; "" when it has none (or not one we made)."""
    cookie = st.context.cookies.get(OWNER_COOKIE)
    return cookie if isinstance(cookie, str) and TOKEN.fullmatch(cookie) else ""
