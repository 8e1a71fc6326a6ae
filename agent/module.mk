# agent/ -- vigil-agent (issue 15): runs on a device, dials out to vigil over
# wss once, publishes its camera and serves its commands on that connection.
# It links its own objects, common/ and media/gst_build.c (the element and
# link helpers vigil's pipelines use), none of the server's.
AGENT_MAIN = agent/main.c
AGENT_SRC  = $(filter-out $(AGENT_MAIN),$(wildcard agent/*.c))
AGENT_COMMON = common/log.c common/handoff.c media/gst_build.c
# Its codecs strings come from GStreamer's bitstream parsers.
PKGS += gstreamer-codecparsers-1.0
EXTRA_BINS += $(B)/vigil-agent
EXTRA_TEST_BINS += $(B)/asan/vigil-agent

define agent_variant
$(1)/libvigil-agent.a: $$(patsubst %.c,$(1)/obj/%.o,$$(AGENT_SRC) $$(AGENT_COMMON))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/vigil-agent: $(1)/obj/$(AGENT_MAIN:.c=.o) $(1)/libvigil-agent.a
	$$(CC) $(2) -o $$@ $$^ $$(LIBS)

# Unit tests of the agent (tests/unit/test_agent_*.c) link its library.
$(1)/tests/test_agent_%: $(1)/obj/tests/unit/test_agent_%.o $(1)/libvigil-agent.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(CHECK_LIBS)
endef
$(eval $(call agent_variant,$(B),-O2))
$(eval $(call agent_variant,$(B)/asan,-O1 $(SAN)))
