# vigil — build, run and test.
#
#   make          build build/vigil
#   make run      install what is missing, build, start with the built-in demo camera
#   make test     install what is missing, build, run every test (also under ASan+UBSan)
#   make deps     install missing Debian packages and test npm packages
#
# pkg-config is evaluated lazily (=), and `run`/`test` re-enter make after
# `deps`, so a fresh machine gets its compiler flags after the install.

CC      ?= gcc
PKGS     = libwebsockets gstreamer-1.0 gstreamer-app-1.0 gstreamer-pbutils-1.0 \
           jansson libsrtp2 openssl gstreamer-rtp-1.0
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE $(WARN) -g -MMD -MP -I. \
           $(shell pkg-config --cflags $(PKGS))
LIBS     = $(shell pkg-config --libs $(PKGS)) -lev -lpthread -lm
# vigil itself opens libsrtp on first use (media/srtp_lib.h); tests and tools
# that protect packets link it.
VIGIL_LIBS = $(shell pkg-config --libs $(filter-out libsrtp2,$(PKGS))) -lev -lpthread -lm
CHECK_LIBS = $(shell pkg-config --libs check)
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

B        = build
CORE_SRC = $(wildcard common/*.c) $(wildcard media/*.c) $(wildcard signaling/*.c) \
           $(wildcard server/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
TOOLS_SRC = $(wildcard tests/tools/*.c)

# Optional modules add themselves here (control/, bench/ ...).
-include $(wildcard */module.mk)

# Two variants: release in build/, sanitizers in build/asan/.
define variant
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_COMMON) $(2) -c $$< -o $$@

$(1)/libvigil.a: $$(patsubst %.c,$(1)/obj/%.o,$$(CORE_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/vigil: $(1)/obj/app/main.o $(1)/libvigil.a
	$$(CC) $(2) -o $$@ $$^ $$(VIGIL_LIBS)

$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/libvigil.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(CHECK_LIBS)

$(1)/tools/%: $(1)/obj/tests/tools/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(shell pkg-config --libs gstreamer-rtsp-server-1.0)

-include $$(shell find $(1)/obj -name '*.d' 2>/dev/null)
endef

$(eval $(call variant,$(B),-O2))
$(eval $(call variant,$(B)/asan,-O1 $(SAN)))

UNIT_BINS      = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
UNIT_BINS_ASAN = $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRC))
TOOL_BINS      = $(patsubst tests/tools/%.c,$(B)/tools/%,$(TOOLS_SRC))

# The RTSP test camera needs gst-rtsp-server's headers.
$(B)/obj/tests/tools/%.o: CFLAGS_COMMON += $(shell pkg-config --cflags gstreamer-rtsp-server-1.0)

# `make test` and `make soak` build on every core: a clean clone's build is
# several minutes of the test run when done one file at a time.
NPROC := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build deps run test unit integration browser valgrind clean bench soak
.DEFAULT_GOAL := all

all: $(B)/vigil $(EXTRA_BINS)

build: all $(B)/asan/vigil $(UNIT_BINS) $(UNIT_BINS_ASAN) $(TOOL_BINS) $(EXTRA_TEST_BINS)

deps:
	@bash scripts/deps.sh

run:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@B=$(B) scripts/run.sh $(RUN_ARGS)

test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$(NPROC) build
	@bash tests/run_all.sh

# Hours of operation in minutes (tests/soak/soak.mjs): SOAK_MINUTES (10),
# SOAK_ASAN=1 for the ASan+UBSan server. Not part of `make test`.
soak:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$(NPROC) build
	@cd tests && $(if $(filter 1,$(SOAK_ASAN)),VIGIL_BIN=$(CURDIR)/$(B)/asan/vigil VIGIL_SANITIZED=1 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0,) \
	  node soak/soak.mjs

clean:
	rm -rf $(B)
