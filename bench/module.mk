# bench/ -- `make bench` (issue 6): the load client (build/bench/vigil-load),
# the floor (build/bench/vigil-floor), the clip, and the runner that compares
# vigil with the floor. `make build` builds the two programs too, for the
# smoke test (tests/integration/bench_smoke.test.js). Both speak ws and, with
# libssl, wss (bench/tls_conn.c, bench/floor_tls.c).
BENCH_LOAD_OBJ  = $(patsubst %.c,$(B)/obj/%.o,bench/load_main.c bench/load_conn.c \
                  bench/load_report.c bench/samples.c bench/proc_stats.c bench/tls_conn.c \
                  bench/wsproto.c)
BENCH_FLOOR_OBJ = $(patsubst %.c,$(B)/obj/%.o,bench/floor_main.c bench/floor_client.c \
                  bench/fmp4_file.c bench/floor_tls.c bench/wsproto.c)
BENCH_BINS = $(B)/bench/vigil-load $(B)/bench/vigil-floor
EXTRA_TEST_BINS += $(BENCH_BINS)

$(B)/bench/vigil-load: $(BENCH_LOAD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -O2 -o $@ $^ -lssl -lcrypto -lm

$(B)/bench/vigil-floor: $(BENCH_FLOOR_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -O2 -o $@ $^ -lssl -lcrypto

# The clip (720p30, 2 Mbit/s, a keyframe every second), made once, and its
# fragments for the floor.
$(B)/bench/clip.mp4: bench/make_clip.sh
	@mkdir -p $(dir $@)
	bash bench/make_clip.sh $@

bench: $(B)/vigil $(BENCH_BINS) $(B)/bench/clip.mp4
	node bench/run.mjs

# `make bench-agent`: vigil-agent's CPU and memory (pass-through and encode,
# 720p30) and glass to glass through it (bench/agent.mjs).
.PHONY: bench-agent
bench-agent: $(B)/vigil $(B)/vigil-agent $(B)/tools/rtsp_camera
	node bench/agent.mjs

# `make bench-cluster`: vigil nodes on a NATS cluster (bench/cluster.mjs):
# the latency the NATS hop adds, and the ingesting node's CPU with 0, 1 and 3
# edges watching. Needs nats-server; not part of `make bench`.
.PHONY: bench-cluster
bench-cluster: $(B)/vigil $(B)/bench/clip.mp4
	node bench/cluster.mjs
