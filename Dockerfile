# vigil container image.
#
# Two stages: a Debian 12 build stage with the -dev packages runs `make`; the
# runtime stage carries vigil, the device simulator vigil-devsim (run by
# the compose file's devsim service) and vigil-agent with the example
# handlers of deploy/agent/handlers/ (the compose file's agent service),
# only the shared libraries, the GStreamer plugins the pipelines use, curl
# for the health check, and certs/make-certs.sh with the openssl command it
# runs (the compose file's one-shot "certs" service makes the TLS
# certificates with it; its "secret" service the token secret). Same
# distribution in both stages, so the binaries link against exactly the
# library versions they were built with.
#
#   docker-compose up --build        (see docker-compose.yml)
#   docker build -t vigil . && certs/make-certs.sh && \
#     docker run -p 8443:8443 -p 8080:8080 -v "$PWD/certs/out:/etc/vigil/certs:ro" vigil
# (the certificate and key in certs/out must be readable by the container's
# user "vigil": a local test only; compose makes them inside a volume).

FROM debian:bookworm-slim AS build
# Matches scripts/deps.sh, minus what only the tests need. control/module.mk
# adds libmosquitto and libcoap to the pkg-config list, so they are needed
# to compile even if the relay never talks to a device.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libwebsockets-dev libwebsockets-evlib-ev libev-dev libjansson-dev libssl-dev libsrtp2-dev \
      libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev \
      libmosquitto-dev libcoap3-dev libnats-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all


FROM debian:bookworm-slim
# Runtime libraries of the -dev packages above (vigil-devsim needs libmosquitto1,
# libcoap3, libjansson4 and libssl3 of them; libsrtp2-1 decrypts srtp://
# sources; libgstreamer-plugins-base1.0-0 holds libgstrtp), plus the plugins
# holding the elements media/source.c builds: videotestsrc, appsrc, appsink
# (base), clockoverlay, timeoverlay (Debian ships the pango plugin in
# gstreamer1.0-x), rtspsrc, rtpjitterbuffer, rtph264depay, qtdemux, mp4mux
# (good), h264parse (bad), x264enc (ugly); for sound (media/audio_branch.c)
# audiotestsrc, audioconvert, audioresample, opusenc (base), aacparse,
# rtpopusdepay, rtpmp4gdepay, rtpmp4adepay, rtppcmudepay, rtppcmadepay,
# mulawdec, alawdec (good), opusparse (bad). gstreamer1.0-tools has
# gst-launch-1.0, which the compose file's camsim service runs (rtph264pay,
# udpsink: good; srtpenc: bad). A font so the test source's burnt-in clock
# renders. libwebsockets-evlib-ev (and libev4) is lws's libev event loop,
# which server/server.c runs.
# vigil-agent (agent/media.c) needs no other library and mostly the same
# plugins: videotestsrc, videoconvert, videoscale, videorate, audiotestsrc,
# opusenc, parsebin (base), timeoverlay (x), v4l2src (good: video4linux2,
# which also offers a V4L2 hardware encoder, v4l2h264enc, where the device
# has one), rtspsrc, rtph264depay, rtph265depay (good), h264parse,
# h265parse (bad), x264enc (ugly); gstreamer1.0-alsa adds alsasrc, for its
# "audio": "alsa:..." (a sound device must then be passed in too).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libwebsockets17 libwebsockets-evlib-ev libev4 libjansson4 libssl3 libsrtp2-1 \
      libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 libgstreamer-plugins-bad1.0-0 \
      libmosquitto1 libcoap3 libnats3.4 \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-x gstreamer1.0-tools \
      gstreamer1.0-alsa \
      fonts-dejavu-core curl ca-certificates openssl \
 && rm -rf /var/lib/apt/lists/*

# Unprivileged user. It gets a home because GStreamer caches its plugin
# registry under $HOME/.cache; without one it rescans every plugin at each
# start.
RUN useradd --system --create-home --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil
# Where the TLS certificate and key are read from (config/vigil.json), where
# the compose file's "certs" service keeps the CA's key, its "secret"
# service the token secret and its "agent-token" service the agent's token.
# Owned by vigil: a named volume mounted on any of them starts out with this
# owner, so the one-shot service (running as vigil) can write it and the
# relay or the agent read it.
RUN mkdir -p /etc/vigil/certs /var/lib/vigil/ca /var/lib/vigil/secret /var/lib/vigil-agent \
 && chown vigil:vigil /etc/vigil/certs /var/lib/vigil/ca /var/lib/vigil/secret /var/lib/vigil-agent \
 && chmod 0700 /var/lib/vigil/ca /var/lib/vigil/secret /var/lib/vigil-agent

COPY --from=build /src/build/vigil /usr/local/bin/vigil
COPY --from=build /src/build/vigil-devsim /usr/local/bin/vigil-devsim
COPY --from=build /src/build/vigil-agent /usr/local/bin/vigil-agent
# The example handlers, where config/agent.json and deploy/agent/agent.json
# name them (executable in the repository, and COPY keeps the mode).
COPY deploy/agent/handlers/ /usr/local/lib/vigil-agent/
COPY certs/make-certs.sh /usr/local/bin/make-certs.sh
COPY web/ /usr/share/vigil/web/
# A default for a bare `docker run` (which must then mount certificates, see
# above); docker-compose mounts its own.
COPY config/vigil.json /etc/vigil/vigil.json

# web_root "web" in the config is relative to the working directory.
WORKDIR /usr/share/vigil
USER vigil
# https (and wss) on 8443; 8080 only redirects to it (config/vigil.json).
EXPOSE 8443 8080

# 8443 is the port in config/vigil.json; change both together. curl checks
# the certificate against the CA that made it (make-certs.sh copies ca.pem
# beside the certificate) and the name "localhost" it always carries, rather
# than -k, which would accept any certificate at all.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD curl -fsS --cacert /etc/vigil/certs/ca.pem https://localhost:8443/api/health || exit 1

CMD ["vigil", "--config", "/etc/vigil/vigil.json"]
