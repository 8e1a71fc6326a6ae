# deploy/ -- `make install`: the binary, the dashboard, an example config, a
# token secret and the systemd unit (deploy/vigil.service); and vigil-agent
# with its unit (deploy/vigil-agent.service), an example config
# (deploy/agent/agent.json) and the example handlers it names
# (deploy/agent/handlers/, into $(PREFIX)/lib/vigil-agent).
#
#   make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc] [UNITDIR=...]
#
# The unit goes to $(PREFIX)/lib/systemd/system: under /usr/local for a local
# install (systemd looks there too, see `systemd-analyze unit-paths`), and
# for PREFIX=/usr the directory Debian's packages use, /lib/systemd/system
# (`pkg-config --variable=systemdsystemunitdir systemd`; the same directory
# on Debian 12's merged /usr). An existing config or secret is never
# overwritten: the example then goes beside it as vigil.json.example; the
# same for /etc/vigil-agent/agent.json. The agent's token is not made here:
# it is minted on the vigil server (vigil token --role device ...) and put
# in /etc/vigil-agent/token (0600), which the unit hands over as a credential.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BINDIR      = $(PREFIX)/bin
DATADIR     = $(PREFIX)/share/vigil
DOCDIR      = $(PREFIX)/share/doc/vigil
ETC         = $(DESTDIR)$(SYSCONFDIR)/vigil
AGENT_ETC   = $(DESTDIR)$(SYSCONFDIR)/vigil-agent
AGENT_LIBDIR = $(PREFIX)/lib/vigil-agent
# The agent's paths in its unit and example config, set to PREFIX and
# SYSCONFDIR.
AGENT_PATHS = -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/|$(PREFIX)/share/|g' \
              -e 's|/usr/local/lib/vigil-agent/|$(AGENT_LIBDIR)/|g' \
              -e 's|/etc/vigil-agent/|$(SYSCONFDIR)/vigil-agent/|g'

.PHONY: install
install: $(B)/vigil $(B)/vigil-agent
	install -D -m 0755 $(B)/vigil $(DESTDIR)$(BINDIR)/vigil
	cd web && find . -type f -exec install -D -m 0644 {} $(DESTDIR)$(DATADIR)/web/{} \;
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -d -m 0755 $(ETC)
	if [ -e $(ETC)/vigil.json ]; then \
	  install -m 0644 deploy/vigil.json $(ETC)/vigil.json.example; \
	else \
	  install -m 0644 deploy/vigil.json $(ETC)/vigil.json; \
	fi
	[ -e $(ETC)/secret ] || (umask 077 && openssl rand -hex 32 > $(ETC)/secret)
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/|$(PREFIX)/share/|g' \
	  -e 's|/etc/vigil/|$(SYSCONFDIR)/vigil/|g' \
	  deploy/vigil.service > $(DESTDIR)$(UNITDIR)/vigil.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vigil.service
	install -D -m 0755 $(B)/vigil-agent $(DESTDIR)$(BINDIR)/vigil-agent
	for h in deploy/agent/handlers/*; do \
	  install -D -m 0755 $$h $(DESTDIR)$(AGENT_LIBDIR)/$${h##*/}; \
	done
	install -d -m 0755 $(AGENT_ETC)
	if [ -e $(AGENT_ETC)/agent.json ]; then \
	  sed $(AGENT_PATHS) deploy/agent/agent.json > $(AGENT_ETC)/agent.json.example; \
	  chmod 0644 $(AGENT_ETC)/agent.json.example; \
	else \
	  sed $(AGENT_PATHS) deploy/agent/agent.json > $(AGENT_ETC)/agent.json; \
	  chmod 0644 $(AGENT_ETC)/agent.json; \
	fi
	sed $(AGENT_PATHS) deploy/vigil-agent.service > $(DESTDIR)$(UNITDIR)/vigil-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vigil-agent.service
