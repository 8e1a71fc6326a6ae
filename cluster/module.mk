# cluster/ -- vigil nodes on a NATS cluster (cluster/cluster.h): leases in a
# JetStream key-value bucket, frames and control messages between nodes.
CORE_SRC += $(wildcard cluster/*.c)
PKGS += libnats
