#!/usr/bin/env bash
# make_clip.sh OUT.mp4 [SECONDS] [WIDTH HEIGHT KBPS]
#
# Makes the bench clip once with GStreamer: a moving test pattern with a
# running timer, encoded with x264 at 30 fps, constant bitrate, a keyframe
# every second (no scene-cut keyframes, no B-frames), in a plain MP4 that
# vigil's file:// source replays (media/source.c). Defaults: 20 s of 720p at
# 2000 kbit/s. Also writes OUT.fmp4 (OUT without .mp4): the same frames fragmented by mp4mux one
# frame per fragment, which is what the floor (bench/floor_main.c) replays.
set -euo pipefail
out=$1
secs=${2:-20}
w=${3:-1280}
h=${4:-720}
kbps=${5:-2000}
tmp="$out.tmp.mp4"
gst-launch-1.0 -q videotestsrc num-buffers=$((secs * 30)) pattern=smpte horizontal-speed=4 \
  ! "video/x-raw,format=I420,width=$w,height=$h,framerate=30/1" \
  ! timeoverlay font-desc="Sans 48" \
  ! x264enc bitrate="$kbps" key-int-max=30 tune=zerolatency speed-preset=veryfast \
      option-string="scenecut=0" \
  ! h264parse ! mp4mux ! filesink location="$tmp"
gst-launch-1.0 -q filesrc location="$tmp" ! qtdemux ! h264parse \
  ! mp4mux fragment-duration=1 streamable=true ! filesink location="${out%.mp4}.fmp4"
mv "$tmp" "$out"
