"""The page shown while no analysis is open."""
from __future__ import annotations

import streamlit as st


def welcome() -> None:
    st.title("Squat form check")
    st.markdown(
        "Film a set of squats **from the side, at hip height, with the whole body in view**, then upload "
        "the clip in the sidebar (or try the sample). You get the skeleton on every frame, knee and hip "
        "angles, trunk lean and moment arms over time, each rep's depth and tempo, and what to fix."
    )
    st.info("Upload a clip or press **Try a sample clip** in the sidebar to start.", icon=":material/arrow_back:")
