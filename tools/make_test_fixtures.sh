#!/usr/bin/env bash
# One-off maker of the video fixtures in tests/data (tests never run it).
# Needs Debian's ffmpeg 5.1 (apt-get install ffmpeg), python3 with numpy, and the
# team's shared real clips (default: the shared/data folder beside the repo; override with SRC=...).
# Outputs are deterministic except for encoder builds: re-running with another
# ffmpeg gives different bytes, so re-run vfr_times.csv with its clip.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="${SRC:-$HERE/../../shared/data}"
cd "$HERE/../tests/data"
FF=(ffmpeg -hide_banner -loglevel error -y)
# No encoder/creation-time tags, so re-runs with the same ffmpeg give the same bytes.
CLEAN=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact)
X264=(-c:v libx264 -preset slow -pix_fmt yuv420p)
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Portrait lab clip for end-to-end pose tests: all 100 frames, 60 fps, 540x960.
"${FF[@]}" -i "$SRC/pose2sim_cam01.mp4" -vf scale=540:960 "${X264[@]}" -crf 23 -an \
  -movflags +faststart "${CLEAN[@]}" pose2sim_cam01.mp4

# Same moment from the second camera, VP9 in WebM (no frame count in the header).
"${FF[@]}" -i "$SRC/pose2sim_cam02.mp4" -vf scale=540:960 -frames:v 50 \
  -c:v libvpx-vp9 -crf 34 -b:v 0 -deadline good -cpu-used 2 -row-mt 1 -an \
  "${CLEAN[@]}" pose2sim_cam02_vp9.webm

# How phones store portrait clips: landscape pixels (the upright image turned 90°
# counter-clockwise) plus a display matrix saying "turn 90° clockwise to show".
# ffmpeg 5.1 has no -display_rotation; its mov muxer turns the legacy rotate tag
# into the matrix (rotate=270 is read back by PyAV 18 as frame.rotation == -90).
"${FF[@]}" -i "$SRC/pose2sim_cam01.mp4" -vf scale=540:960,transpose=cclock "${X264[@]}" -crf 23 \
  -an "${CLEAN[@]}" "$TMP/landscape.mp4"
"${FF[@]}" -i "$TMP/landscape.mp4" -c copy -metadata:s:v:0 rotate=270 -movflags +faststart \
  "${CLEAN[@]}" phone_rotated.mp4

# Side-on deep crouch, landscape, all 80 frames.
"${FF[@]}" -i "$SRC/sports2d_crouch_h264.mp4" -vf scale=960:540 "${X264[@]}" -crf 25 -an \
  -movflags +faststart "${CLEAN[@]}" sports2d_crouch.mp4

# Variable frame rate: 60 frames whose steps are 1/60 s, or 1/30 s when N is a
# multiple of 3 or of 7 (inclusion-exclusion keeps every step at 1 or 2 ticks).
"${FF[@]}" -i "$SRC/pose2sim_cam01.mp4" -frames:v 60 \
  -vf "scale=180:320,setpts=(N+floor(N/3)+floor(N/7)-floor(N/21))/(60*TB)" \
  -fps_mode passthrough "${X264[@]}" -crf 28 -an -movflags +faststart "${CLEAN[@]}" vfr.mp4
{
  echo "index,pts,time_s"
  ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp,best_effort_timestamp_time \
    -of csv=p=0 vfr.mp4 | awk -F, 'NF >= 2 {printf "%d,%s,%s\n", n++, $1, $2}'
} > vfr_times.csv

# Tiny clips, one per codec/container pair we promise to read: 10 frames at 160x90.
TINY=(-i "$SRC/sports2d_crouch_h264.mp4" -frames:v 10 -vf scale=160:90 -an "${CLEAN[@]}")
"${FF[@]}" "${TINY[@]}" -c:v libx265 -x265-params log-level=error -tag:v hvc1 -pix_fmt yuv420p codec_hevc.mp4
"${FF[@]}" "${TINY[@]}" -c:v libvpx-vp9 -crf 40 -b:v 0 codec_vp9.mkv
"${FF[@]}" "${TINY[@]}" -c:v mjpeg -q:v 5 -pix_fmt yuvj420p codec_mjpeg.avi
"${FF[@]}" "${TINY[@]}" "${X264[@]}" -crf 28 codec_h264.mov

# Bad inputs.
install -m 0644 "$SRC/not_a_video.mp4" not_a_video.mp4  # a text file with a video extension
install -m 0644 "$SRC/truncated.mp4" truncated.mp4 # first 20 000 bytes of cam01: no moov atom
python3 -c "import numpy as np, sys; sys.stdout.buffer.write(np.random.default_rng(20240601).integers(0, 256, 4096, dtype=np.uint8).tobytes())" > random_bytes.mp4
"${FF[@]}" -i "$SRC/pose2sim_cam01.mp4" -frames:v 1 -vf scale=90:160 -q:v 5 "${CLEAN[@]}" -f image2 -c:v mjpeg "$TMP/still.jpg"
cp "$TMP/still.jpg" still_image.mp4        # a JPEG with a video extension
"${FF[@]}" -f lavfi -i sine=frequency=440:duration=1 -c:a aac -b:a 32k "${CLEAN[@]}" audio_only.mp4
: > empty.mp4

mkdir -p LICENSES
install -m 0644 "$SRC/LICENSES/pose2sim-BSD-3-Clause.txt" "$SRC/LICENSES/sports2d-BSD-3-Clause.txt" LICENSES/

ls -l pose2sim_cam01.mp4 pose2sim_cam02_vp9.webm phone_rotated.mp4 sports2d_crouch.mp4 vfr.mp4 \
  codec_* not_a_video.mp4 truncated.mp4 random_bytes.mp4 still_image.mp4 audio_only.mp4 empty.mp4
