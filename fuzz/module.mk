# fuzz/ -- libFuzzer targets (clang, ASan+UBSan) for what vigil reads from
# the network and from its config; see fuzz/README.md.
#
#   make fuzz             runs every target for FUZZ_SECONDS (default 60) each, prints a summary
#   make fuzz-build       builds them into build/fuzz/ (also part of `make build`, so `make test`)
#   make fuzz-seeds       regenerates the generated seeds (tokens, SRTP packets) in fuzz/corpus/
#   fuzz/replay.sh        replays fuzz/corpus/ and fuzz/regressions/ without mutating (make test)
#
# vigil's sources are compiled a third time here, with clang and
# -fsanitize=fuzzer-no-link for coverage, into build/fuzz/libvigil.a; each
# target links that with its own harness. Comes after control/module.mk
# (modules are included in name order), so CORE_SRC is complete.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
# every fuzz/fuzz_<target>.c but the shared fuzz_common.c and fuzz_server.c is a target
FUZZ_SHARED   = fuzz/fuzz_common.c fuzz/fuzz_server.c
FUZZ_TARGETS  = $(patsubst fuzz/fuzz_%.c,%,$(filter-out $(FUZZ_SHARED),$(wildcard fuzz/fuzz_*.c)))
FB            = $(B)/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(CFLAGS_COMMON) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_BINS     = $(patsubst %,$(FB)/fuzz_%,$(FUZZ_TARGETS))
EXTRA_TEST_BINS += $(FUZZ_BINS)

.PHONY: fuzz fuzz-build fuzz-seeds
.SECONDARY: $(patsubst %,$(FB)/obj/fuzz/fuzz_%.o,$(FUZZ_TARGETS))

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FB)/libvigil.a: $(patsubst %.c,$(FB)/obj/%.o,$(CORE_SRC))
	@rm -f $@
	ar rcs $@ $^

$(FB)/fuzz_%: $(FB)/obj/fuzz/fuzz_%.o $(FB)/obj/fuzz/fuzz_common.o $(FB)/libvigil.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FB)/libvigil.a $(LIBS)

# The targets that drive a session get the network-less server (fuzz_server.h).
$(FB)/fuzz_signaling $(FB)/fuzz_publish: $(FB)/obj/fuzz/fuzz_server.o

# Writes the seeds that need the fuzz secret or libsrtp (not a fuzz target).
$(FB)/seedgen: $(FB)/obj/fuzz/seedgen.o $(FB)/obj/fuzz/fuzz_common.o $(FB)/libvigil.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz-seeds: $(FB)/seedgen
	$(FB)/seedgen fuzz/corpus

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(FUZZ_TARGETS)

-include $(shell find $(FB)/obj -name '*.d' 2>/dev/null)
