# deploy/ -- `make install`: the binary, the dashboard, an example config, a
# token secret and the systemd unit (deploy/vigil.service).
#
#   make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc] [UNITDIR=...]
#
# The unit goes to $(PREFIX)/lib/systemd/system: under /usr/local for a local
# install (systemd looks there too, see `systemd-analyze unit-paths`), and
# for PREFIX=/usr the directory Debian's packages use, /lib/systemd/system
# (`pkg-config --variable=systemdsystemunitdir systemd`; the same directory
# on Debian 12's merged /usr). An existing config or secret is never
# overwritten: the example then goes beside it as vigil.json.example.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BINDIR      = $(PREFIX)/bin
DATADIR     = $(PREFIX)/share/vigil
DOCDIR      = $(PREFIX)/share/doc/vigil
ETC         = $(DESTDIR)$(SYSCONFDIR)/vigil

.PHONY: install
install: $(B)/vigil
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
