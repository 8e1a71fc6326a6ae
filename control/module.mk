# control/ -- device control (control/control.h): the core, the MQTT and CoAP
# transport plugins, the device simulator (build/vigil-devsim) and the
# integration-test driver (build/vigil-control-driver).
CONTROL_MAINS = control/devsim_main.c control/driver_main.c
CORE_SRC += $(filter-out $(CONTROL_MAINS),$(wildcard control/*.c))
PKGS += libmosquitto libcoap-3-openssl
EXTRA_BINS += $(B)/vigil-devsim
EXTRA_TEST_BINS += $(B)/vigil-control-driver $(B)/asan/vigil-control-driver

# The simulator is a stand-alone device: it links no vigil code.
$(B)/vigil-devsim: $(B)/obj/control/devsim_main.o
	$(CC) -O2 -o $@ $^ $(LIBS)

$(B)/vigil-control-driver: $(B)/obj/control/driver_main.o $(B)/libvigil.a
	$(CC) -O2 -o $@ $^ $(LIBS)

$(B)/asan/vigil-control-driver: $(B)/asan/obj/control/driver_main.o $(B)/asan/libvigil.a
	$(CC) -O1 $(SAN) -o $@ $^ $(LIBS)
