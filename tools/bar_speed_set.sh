#!/usr/bin/env bash
# The bar-speed renders of issue 16 (docs/accuracy-log.md §20): sets that slow down rep by rep,
# with the bar's exact height per frame. Tuning: testclip (also tests/data/synth_vbt), t1, t2, and
# t3, t4 (two 60 fps reps, session 17, §23); checking: c1-c7 (analysed after the settings were chosen).
#
#   SYNTH_DIR=../shared/tools/synth SYNTH_PYTHON=$VENV/bin/python tools/bar_speed_set.sh OUT
#   python tools/retune.py OUT/check runs/vbt_check            # then squat evaluate each run
#
# About 1 min (testclip) to 20 min (a 60 fps set) each on 2 cores; a clip already rendered is kept.
set -euo pipefail
OUT=$(realpath "${1:?usage: tools/bar_speed_set.sh OUT}")
SYNTH_DIR=${SYNTH_DIR:-../shared/tools/synth}
SYNTH_PYTHON=${SYNTH_PYTHON:-python}
mkdir -p "$OUT/tune" "$OUT/check"
cd "$SYNTH_DIR"
render() {  # render SET NAME OPTIONS...
    local set=$1 name=$2; shift 2
    [ -f "$OUT/$set/$name/truth.csv" ] && return
    echo "== $set/$name"
    "$SYNTH_PYTHON" render_squat.py --out "$OUT/$set/$name" "$@" > "$OUT/$set/$name.log" 2>&1
}
render tune testclip --seed 7000 --size 640x360 --reps 2 --ascent 1.0,1.6 --stand 0.5 --descent 1.2 --azimuth 90
render tune t1 --seed 7001 --size 960x540 --reps 3 --ascent 1.0,1.3,1.7 --azimuth 90
render tune t2 --seed 7002 --size 960x540 --fps 60 --reps 3 --ascent 0.9,1.2,1.6 --azimuth -90 --gender 1 \
    --height 1.65 --bar-position low
render tune t3 --seed 7003 --size 960x540 --fps 60 --reps 2 --ascent 1.0,1.5 --azimuth -90 --gender 0.3 --height 1.75
render tune t4 --seed 7004 --size 960x540 --fps 60 --reps 2 --ascent 1.1,1.7 --azimuth 90 --gender 0.9 --height 1.58
render check c1 --seed 7101 --size 960x540 --reps 4 --ascent 1.0,1.2,1.5,1.9 --azimuth 85 --body long_femur
render check c2 --seed 7102 --size 960x540 --fps 60 --reps 3 --ascent 1.1,1.4,1.8 --azimuth -95 --plates 2
render check c3 --seed 7103 --size 540x960 --reps 3 --ascent 0.8,1.1,1.5 --azimuth 90 --fov 62
render check c4 --seed 7104 --size 960x540 --fps 60 --reps 2 --ascent 1.0,1.5 --azimuth -90 --gender 0.7 --height 1.62
render check c5 --seed 7105 --size 960x540 --reps 3 --ascent 1.0,1.3,1.7 --azimuth 95 --plate-diameter 0.40  # analyse with --plate-cm 40
render check c6 --seed 7106 --size 960x540 --fps 60 --reps 2 --ascent 0.9,1.4 --azimuth 92 --gender 0.8 --height 1.70
render check c7 --seed 7107 --size 960x540 --fps 30 --reps 2 --ascent 1.0,1.6 --azimuth -88 --gender 0.2 --height 1.85
