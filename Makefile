# hopper — build, test, run, install.
#
#   make            build build/hopperd and build/hopper
#   make deps       install build/runtime/test dependencies with apt-get (if missing)
#   make run        deps + build + hopperd in the foreground on the embedded PostgreSQL
#   make check      deps + build + unit and integration tests
#   make bench      benchmarks (ratios against a baseline of the same run)
#   make install    PREFIX=/usr/local DESTDIR=     (make uninstall: the same files again)
#   make check-systemd  boot a Debian 12 root under systemd-nspawn, install, check the unit
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS=60 each
#   make clean
#
# Options: SANITIZE=address,undefined   DEVELOPER=0 (no -Werror)   V=1

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MANDIR    ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/lib/hopper
DESTDIR   ?=
DEVELOPER ?= 1
SANITIZE  ?=

B := build
CC ?= cc
PKGS := libsystemd liburing libpq cmocka inih libxml-2.0 libmagic uchardet libcrypto libseccomp libcurl json-c tesseract lept libzip

# Debian packages needed to build, run and test (make deps).
DEB_PKGS := build-essential pkg-config libsystemd-dev liburing-dev libpq-dev \
	libcmocka-dev libinih-dev libxml2-dev libmagic-dev libmagic-mgc libuchardet-dev \
	libssl-dev libseccomp-dev postgresql postgresql-client python3 procps passwd \
	systemd mandoc libcurl4-openssl-dev libjson-c-dev libzip-dev \
	libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr libtree-sitter-dev \
	libmupdf-dev libfreetype-dev libharfbuzz-dev libjbig2dec0-dev \
	libopenjp2-7-dev libjpeg-dev zlib1g-dev libgumbo-dev libmujs-dev \
	poppler-utils mupdf-tools bc \
	systemd-container debootstrap clang libclang-rt-14-dev \
	bindfs

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing \
	-D_GNU_SOURCE -Iinclude -I$(B) $(PKG_CFLAGS) -MMD -MP
ifeq ($(DEVELOPER),1)
CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -DHP_SANITIZE
LDFLAGS += -fsanitize=$(SANITIZE)
endif
LDLIBS += $(PKG_LIBS) -lm
# The converters' libraries, for the programs that convert (hopperd's worker,
# hopper convert, tests, benchmarks). MuPDF is static only and its .pc file
# names just -lmupdf (../shared/PLATFORM.md); the static linker takes from
# these only what a program uses.
CONVERT_LIBS := -lmupdf -lmupdf-third -lfreetype -lharfbuzz -ljbig2dec -lopenjp2 -ljpeg -lz \
	-lgumbo -lmujs -lm -lpthread

ifneq ($(V),1)
Q := @
endif

LIB_SRCS := $(sort $(wildcard lib/*.c lib/convert/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o) $(B)/sql_migrations.o
SQL_FILES := $(sort $(wildcard lib/sql/*.sql))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
INTEG_SRCS := $(sort $(wildcard tests/integration/test_*.c))
INTEG_BINS := $(INTEG_SRCS:tests/integration/%.c=$(B)/tests/integration/%)
BENCH_SRCS := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(B)/tests/bench/%)
TESTLIB_SRCS := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(B)/%.o)

all: $(B)/hopperd $(B)/hopper $(B)/hopper-worker
.PHONY: all deps run check unit integration peer install uninstall clean bench testdata check-systemd fuzz fuzz-bins

# Rebuild everything when the flags change (e.g. SANITIZE on/off).
$(B)/.flags: FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $@
FORCE:
# Keep test objects: to make they are intermediate, but rebuilding them every run is waste.
.SECONDARY: $(B)/tests/attack/attack.o $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%.o) $(B)/tests/fuzz/standalone.o $(UNIT_BINS:%=%.o) $(INTEG_BINS:%=%.o) $(TESTLIB_OBJS) $(BENCH_BINS:%=%.o)

$(B)/%.o: %.c $(B)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Migrations are compiled into the binary: each lib/sql/NNN_name.sql becomes
# one entry of hp_migrations[] (see include/hopper/migrate.h).
$(B)/sql_migrations.c: $(SQL_FILES) Makefile
	@mkdir -p $(B)
	@$(if $(Q),echo "  GEN     $@")
	$(Q){ echo '#include "hopper/migrate.h"'; \
	  echo 'const hp_migration hp_migrations[] = {'; \
	  for f in $(SQL_FILES); do \
	    base=$$(basename $$f .sql); ver=$$(echo $$base | sed 's/_.*//; s/^0*//'); \
	    printf '{ %s, "%s",\n' "$$ver" "$$base"; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $$f; \
	    echo '},'; \
	  done; \
	  echo '};'; \
	  echo 'const size_t hp_n_migrations = sizeof(hp_migrations) / sizeof(hp_migrations[0]);'; \
	} > $@.tmp && mv $@.tmp $@

$(B)/sql_migrations.o: $(B)/sql_migrations.c $(B)/.flags
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libhopper.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# Code chunks (lib/codechunk.c): the tree-sitter grammars vendored in
# lib/third_party (generated code: flags of their own, no warnings, not
# rebuilt when CFLAGS change), linked only into what converts and chunks.
TS_SRCS := $(sort $(wildcard lib/third_party/tree-sitter-*/src/*.c \
	lib/third_party/tree-sitter-typescript/*/src/*.c))
TS_OBJS := $(TS_SRCS:%.c=$(B)/%.o)
TS_CFLAGS := -O2 -g0 -std=gnu11 -w
CODE_LIBS := $(B)/libtsgrammars.a $(shell pkg-config --libs tree-sitter 2>/dev/null || echo -ltree-sitter)

$(B)/lib/third_party/%.o: lib/third_party/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(TS_CFLAGS) -c -o $@ $<

$(B)/libtsgrammars.a: $(TS_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/tests/unit/test_codechunk $(B)/tests/bench/bench_chunk: $(B)/libtsgrammars.a
$(B)/tests/unit/test_codechunk $(B)/tests/bench/bench_chunk: LDLIBS += $(CODE_LIBS)

# The supervisor: no worker code, so no converter (and none of their
# libraries) is linked in; `hopperd --worker` execs hopper-worker.
HOPPERD_OBJS := $(B)/daemon/hopperd.o $(B)/daemon/jobs.o $(B)/daemon/dbconn.o
$(B)/hopperd: $(HOPPERD_OBJS) $(B)/libhopper.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The CLI: one file per concern (commands, result printing, doctor).
CLI_OBJS := $(B)/daemon/hopper.o $(B)/daemon/table.o $(B)/daemon/doctor.o

$(B)/hopper: $(CLI_OBJS) $(B)/libhopper.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The worker alone: converters, chunker, frames, sandbox. Linked --as-needed
# against every library, so it depends on exactly those its code uses (not
# libpq, libsystemd, liburing), whatever a converter adds to PKGS or to
# CONVERT_LIBS (static libraries such as MuPDF's).
$(B)/hopper-worker: $(B)/daemon/hopper-worker.o $(B)/daemon/worker.o $(B)/libhopper.a $(B)/libtsgrammars.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS) $(CONVERT_LIBS) $(CODE_LIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(TESTLIB_OBJS) $(B)/libhopper.a
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CONVERT_LIBS)

$(B)/tests/integration/%: $(B)/tests/integration/%.o $(TESTLIB_OBJS) $(B)/libhopper.a
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CONVERT_LIBS)

# A hopper-worker with a converter that attacks its own sandbox
# (tests/attack/attack.c), beside a copy of hopperd that therefore starts it:
# for tests/integration/sandbox-attack.sh only, never installed.
ATTACK_BIN := $(B)/tests/attack/hopperd $(B)/tests/attack/hopper-worker
$(B)/tests/attack/hopper-worker: $(B)/daemon/hopper-worker.o $(B)/daemon/worker.o $(B)/tests/attack/attack.o $(B)/libhopper.a $(B)/libtsgrammars.a
	$(Q)$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS) $(CONVERT_LIBS) $(CODE_LIBS)
$(B)/tests/attack/hopperd: $(B)/hopperd
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

# Fuzz targets (tests/fuzz/): `make fuzz` links them with libFuzzer (clang,
# in $(FUZZ_B)); `make check` links them with tests/fuzz/standalone.c and
# runs them over tests/data/regress/ (tests/integration/fuzz-regress.sh).
# A converter added to the table gets a target by adding its name here.
FUZZ_CONVERTERS := text markdown html csv json code xml image docx xlsx pptx epub odt ods odp pdf
FUZZ_TARGETS := frame config detect chunk $(FUZZ_CONVERTERS:%=convert_%)
FUZZ_STANDALONE := $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%)
FUZZ_B ?= build-fuzz
FUZZ_SECONDS ?= 60

# Static patterns: the .d files beside these must not look like targets.
$(FUZZ_CONVERTERS:%=$(B)/tests/fuzz/fuzz_convert_%.o): $(B)/tests/fuzz/fuzz_convert_%.o: tests/fuzz/fuzz_convert.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -DHP_FUZZ_CONV=hp_conv_$* -DHP_FUZZ_NAME='"fuzz.$*"' -c -o $@ $<
$(FUZZ_STANDALONE): $(B)/tests/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/standalone.o $(B)/libhopper.a
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CONVERT_LIBS)
# Linked with libFuzzer: only in the clang sub-make of `make fuzz`.
$(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%): $(B)/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/libhopper.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) $(CONVERT_LIBS)
fuzz-bins: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang SANITIZE=fuzzer-no-link,address,undefined fuzz-bins
	@tests/fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

tests: $(UNIT_BINS) $(INTEG_BINS) $(ATTACK_BIN) $(FUZZ_STANDALONE)

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(TESTLIB_OBJS) $(B)/libhopper.a
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CONVERT_LIBS)

# Benchmarks print ratios against a baseline measured in the same run.
BENCH_DOCS := $(wildcard ../shared/peer-tests/markitdown/files/test_*.html) \
	../shared/peer-tests/markitdown/files/test_mskanji.csv README.md tests/data/convert/notes.txt \
	$(wildcard $(addprefix ../shared/peer-tests/markitdown/files/test.,docx xlsx pptx epub))
BENCH_CODE := lib/chunk.c lib/codechunk.c daemon/hopperd.c tests/integration/e2e.sh \
	$(wildcard /usr/lib/python3*/argparse.py /usr/lib/python3*/typing.py)
# PDFs with a text layer: a scan is OCR (seconds a page), which pdftotext
# and mutool do not do, so it is no comparison.
BENCH_PDFS := $(filter-out %_scan.pdf,$(wildcard ../shared/peer-tests/markitdown/files/*.pdf)) \
	tests/data/pdf/paper.pdf tests/data/pdf/memo.pdf
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@$(B)/tests/bench/bench_queue 20000
	@B=$(B) tests/bench/ingest.sh 10000 100000
	@$(B)/tests/bench/bench_reader
	@$(B)/tests/bench/bench_watch
	@B=$(B) bash tests/bench/watch-daemon.sh
	@echo "PDF vs pdftotext and mutool draw -F txt (same files, same run):"
	@tests/bench/pdf_bench.sh $(B) 3 $(BENCH_PDFS)
	@echo "OCR on one core: hopper convert of a picture of text vs the tesseract command (5 runs each):"
	@tests/bench/ocr_vs_tesseract.sh $(B) 5 tests/data/ocr/invoice.png
	@echo "worker start-up (hopper-worker --worker until it waits for its first job):"
	@python3 tests/bench/worker_startup.py $(B)/hopper-worker 20
	@echo "converters + chunker, in process (20 rounds each):"
	@$(B)/tests/bench/bench_convert 20 $(BENCH_DOCS)
	@echo "DOCX, EPUB and HTML against pandoc, same files, same run (files/s; in-process = the converter alone):"
	@B=$(B) tests/bench/office_vs_pandoc.sh $(wildcard ../shared/peer-tests/markitdown/files/*.docx) \
	  $(wildcard ../shared/peer-tests/markitdown/files/*.epub) tests/data/office/sample.docx tests/data/office/sample.epub \
	  $(wildcard ../shared/peer-tests/markitdown/files/*.html)
	@echo "worker pool: hopper bench on the documents above x 10 (no database; the sweep's 2-worker"
	@echo "speedup is 2 workers vs 1, target >= 1.8x on 2 idle CPUs; RSS target <= 64 MiB):"
	@d=$$(mktemp -d); for i in 1 2 3 4 5 6 7 8 9 10; do for f in $(BENCH_DOCS); do \
	  cp "$$f" "$$d/$$i-$$(basename "$$f")"; done; done; \
	  $(B)/hopper bench "$$d" --max-workers 2; rc=$$?; rm -rf "$$d"; exit $$rc
	@echo "supervisor memory with a backlog of 10,000 files (embedded PostgreSQL; baseline: an empty folder):"
	@tests/bench/supervisor_rss.sh $(B) 10000
	@if command -v valgrind >/dev/null; then \
	  echo "instructions per file (callgrind: 2 rounds minus 1 round, so start-up is excluded; repeatable):"; \
	  for f in $(BENCH_DOCS); do \
	    one=$$(valgrind --tool=callgrind --callgrind-out-file=/dev/null $(B)/tests/bench/bench_convert 1 $$f 2>&1 >/dev/null | sed -n 's/.*Collected : //p'); \
	    two=$$(valgrind --tool=callgrind --callgrind-out-file=/dev/null $(B)/tests/bench/bench_convert 2 $$f 2>&1 >/dev/null | sed -n 's/.*Collected : //p'); \
	    printf '  %-28s %12s instructions\n' $$(basename $$f) $$((two - one)); \
	  done; fi
	@echo "chunker on the converted documents (5 rounds each; share of convert + chunk):"
	@$(B)/tests/bench/bench_chunk 5 $(BENCH_DOCS) $(wildcard /usr/share/common-licenses/GPL-3)
	@if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then \
	  valgrind --tool=callgrind --callgrind-out-file=$(B)/chunk.cg $(B)/tests/bench/bench_chunk 1 \
	    $(BENCH_DOCS) $(wildcard /usr/share/common-licenses/GPL-3) >/dev/null 2>&1; \
	  callgrind_annotate --inclusive=yes $(B)/chunk.cg 2>/dev/null | awk \
	    '/chunk.c:hp_chunk_markdown_opts$$/ { c = $$1 } /convert.c:hp_convert$$/ { v = $$1 } \
	     END { gsub(",", "", c); gsub(",", "", v); if (c + v > 0) \
	       printf "  chunker share by instructions (callgrind, repeatable): %.1f%% of convert+chunk\n", 100 * c / (c + v) }'; \
	  rm -f $(B)/chunk.cg; fi
	@echo "code files: symbol-aware code chunker (tree-sitter) vs the Markdown chunker on the same Markdown (5 rounds):"
	@$(B)/tests/bench/bench_chunk 5 $(BENCH_CODE)
	@echo "token counts: hopper's approximation against cl100k_base (npm gpt-tokenizer):"
	@tests/bench/tokens.sh $(B)
	@echo "hopper convert vs pandoc on the peer HTML documents (same run):"
	@tests/bench/peer_vs_pandoc.sh $(B) html 5

# ---- dependencies ---------------------------------------------------------
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing:" $$missing; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# ---- run ------------------------------------------------------------------
# A private config under ./var: embedded PostgreSQL in var/state, watching var/inbox.
RUN_DIR := $(CURDIR)/var
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(RUN_DIR)/inbox $(RUN_DIR)/state
	@chmod 755 $(RUN_DIR) $(RUN_DIR)/state
	@[ -f $(RUN_DIR)/hopper.conf ] || sed -e 's|@STATE_DIR@|$(RUN_DIR)/state|' \
	   -e 's|@INBOX@|$(RUN_DIR)/inbox|' etc/run.conf.in > $(RUN_DIR)/hopper.conf
	@echo "hopper: drop files into $(RUN_DIR)/inbox"
	@echo "hopper: then ask:  build/hopper status"
	@echo "hopper:            build/hopper sql \"SELECT path, title FROM hopper.jobs JOIN hopper.documents d ON d.id = document_id\""
	@echo "hopper: stop with Ctrl-C"
	exec $(B)/hopperd -c $(RUN_DIR)/hopper.conf

# ---- tests ----------------------------------------------------------------
check: deps
	@$(MAKE) --no-print-directory all tests
	@B=$(B) SANITIZE=$(SANITIZE) tests/run.sh

unit: all tests
	@B=$(B) SANITIZE=$(SANITIZE) tests/run.sh unit

integration: all tests
	@B=$(B) SANITIZE=$(SANITIZE) tests/run.sh integration

# hopperd under a real systemd in a Debian 12 container (systemd-nspawn):
# tests/integration/systemd-boot.sh; builds the container's root on first use.
check-systemd: deps
	@$(MAKE) --no-print-directory all
	@B=$(B) SANITIZE=$(SANITIZE) HOPPER_CHECK_SYSTEMD=1 bash tests/integration/systemd-boot.sh

# The office test documents (committed; this rewrites them from make.py).
testdata:
	python3 tests/data/office/make.py

peer: all
	../shared/peer-tests/check.sh $(CURDIR)/$(B)/hopper convert

# ---- install --------------------------------------------------------------
# Everything install puts down, relative to DESTDIR; uninstall removes these
# (the configuration only while it is the shipped one) and never the state
# directory (/var/lib/hopper: the embedded database and the inbox).
MAN_PAGES := $(wildcard daemon/*.[1-8] etc/*.[1-8])
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALLED := $(BINDIR)/hopperd $(BINDIR)/hopper $(LIBEXECDIR)/hopper-worker $(UNITDIR)/hopperd.service \
	$(SYSUSERSDIR)/hopper.conf $(TMPFILESDIR)/hopper.conf $(COMPLETIONDIR)/hopper \
	$(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/hopper $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(COMPLETIONDIR)
	install -m 755 $(B)/hopperd $(B)/hopper $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(LIBEXECDIR)
	install -m 755 $(B)/hopper-worker $(DESTDIR)$(LIBEXECDIR)/
	[ -f $(DESTDIR)$(SYSCONFDIR)/hopper/hopper.conf ] || \
	  install -m 644 etc/hopper.conf $(DESTDIR)$(SYSCONFDIR)/hopper/hopper.conf
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/hopperd.service > $(DESTDIR)$(UNITDIR)/hopperd.service
	install -m 644 systemd/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/hopper.conf
	install -m 644 systemd/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/hopper.conf
	install -m 644 etc/hopper.bash-completion $(DESTDIR)$(COMPLETIONDIR)/hopper
	for m in $(MAN_PAGES); do \
	  s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	@echo "installed. As root: systemd-sysusers && systemd-tmpfiles --create && systemctl daemon-reload && systemctl enable --now hopperd"

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@conf=$(DESTDIR)$(SYSCONFDIR)/hopper/hopper.conf; \
	if [ -f $$conf ] && cmp -s $$conf etc/hopper.conf; then rm -f $$conf; \
	elif [ -f $$conf ]; then echo "kept $$conf: it was changed (remove it by hand)"; fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/hopper $(DESTDIR)$(LIBEXECDIR) 2>/dev/null
	@echo "uninstalled; the state directory (/var/lib/hopper) and the user hopper are left as they are"

clean:
	rm -rf $(B) $(FUZZ_B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
