# pylow - record Python flows into perf.data files, report them offline.
#
#   make              build build/pylow (needs BTF, clang, bpftool)
#   make NO_BPF=1     build a report-only pylow (no BTF, no clang-bpf, no root)
#   make check        install dependencies, build, run every test
#   make demo         install dependencies, build, record the bundled demo, report it
#   make bench        benchmarks (bench/), results under bench/results/
#   make fuzz FUZZ_SECONDS=N   libFuzzer over the file reader
#   make agent        the in-process Python agent for every Python found
#                     ($(O)/agent/<major.minor>/_pylow_agent*.so, next to pylow)
#   V=1 shows commands; O=DIR builds out of tree (default build/)

O ?= build
V ?= 0
NO_BPF ?= 0
SAN ?= 0

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  -D_GNU_SOURCE -I. -I$(O) -MMD -MP
LDLIBS := -lzstd -lm -ltraceevent
# reports decode kernel tracepoint samples with libtraceevent (report/probes.c)
CFLAGS += $(shell pkg-config --cflags libtraceevent 2>/dev/null || echo -I/usr/include/traceevent)

ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRCS := $(wildcard format/*.c) $(wildcard merge/*.c) $(wildcard report/*.c)
REC_SRCS := $(wildcard record/*.c)
BPF_SRCS := $(wildcard bpf/*.bpf.c)

ifeq ($(NO_BPF),1)
CFLAGS += -DPYLOW_NO_BPF
SRCS := $(LIB_SRCS) pylow.c record/record_stub.c
SKELS :=
else
CFLAGS += $(shell pkg-config --cflags libbpf libtracefs 2>/dev/null)
LDLIBS += -lbpf -lelf -ldw -ltracefs -lz
SRCS := $(LIB_SRCS) pylow.c $(filter-out record/record_stub.c,$(REC_SRCS)) agent/ring.c
SKELS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.skel.h,$(BPF_SRCS))
endif

OBJS := $(patsubst %.c,$(O)/%.o,$(SRCS))
LIB_OBJS := $(patsubst %.c,$(O)/%.o,$(LIB_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean deps check test test-unit test-golden test-integration test-multihost test-agent agent demo bench fuzz fuzz-smoke install

ifeq ($(NO_BPF),1)
all: $(O)/pylow
else
all: $(O)/pylow agent
endif

# --- the in-process agent (agent/README.md): one .so per Python minor version
# found (pyenv's 3.x, Debian's python3.11 when python3.11-dev is there), plus
# sitecustomize.py, in $(O)/agent/ where `pylow record` looks for it.  Pythons
# without headers are skipped with a message; none at all is not an error.
AGENT_PYS = $(wildcard /root/.pyenv/versions/3.*/bin/python3.[0-9] /root/.pyenv/versions/3.*/bin/python3.[0-9][0-9]) \
	    $(if $(wildcard /usr/include/python3.11/Python.h),$(wildcard /usr/bin/python3.11))

agent: $(O)/agent/.stamp

$(O)/agent/.stamp: agent/pylow_agent.c agent/frame311.h agent/frame311_check.c agent/filter.h agent/ring.c agent/ring.h agent/sitecustomize.py agent/build.sh format/events.h
	$(call msg,AGENT,$(O)/agent/)
	$(Q)mkdir -p $(O)/agent
	$(Q)if [ -z "$(strip $(AGENT_PYS))" ]; then \
		echo "agent: no Python with headers found (pyenv 3.x, or apt-get install python3.11-dev): not built"; \
	else \
		agent/build.sh -o $(O)/agent $(AGENT_PYS) || echo "agent: built for some Pythons only (see above)"; \
	fi
	$(Q)touch $@

$(O)/pylow: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# --- BPF: vmlinux.h from the running kernel's BTF, objects, skeletons
$(O)/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)test -r /sys/kernel/btf/vmlinux || { echo "error: /sys/kernel/btf/vmlinux missing: this kernel has no BTF; build the report-only tool with 'make NO_BPF=1'" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(O)/bpf/%.bpf.o: bpf/%.bpf.c format/events.h $(wildcard bpf/*.h) $(O)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -D__bpf__ \
		-I/usr/include/$(shell uname -m)-linux-gnu -I$(O) -I. -c $< -o $@

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- the syscall name table written into recordings (META "syscall_names"),
# from the build machine's kernel headers: reports never use the reader's
UNISTD_H ?= $(firstword $(wildcard /usr/include/$(shell uname -m)-linux-gnu/asm/unistd_64.h /usr/include/asm/unistd_64.h))
$(O)/syscall_names.h: $(UNISTD_H) Makefile
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q){ echo '/* generated from $(UNISTD_H) */'; \
	  echo 'static const char plw_syscall_names[] ='; \
	  awk '$$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ { n[$$3] = substr($$2, 6); if ($$3 > max) max = $$3 } \
	       END { s = ""; for (i = 0; i <= max; i++) s = s (i ? "," : "") n[i]; \
	             while (length(s) > 0) { print "\t\"" substr(s, 1, 70) "\""; s = substr(s, 71) } }' $(UNISTD_H); \
	  echo '\t"";'; } > $@

$(O)/record/kernel.o: $(O)/syscall_names.h

# --- tests
$(O)/tests/%: tests/unit/%.c $(LIB_OBJS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) -lcmocka $(LDLIBS)

# the label parser is recorder code, tested on its own (no BPF needed)
$(O)/tests/test_labels: tests/unit/test_labels.c $(O)/record/labels.o $(LIB_OBJS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/record/labels.o $(LIB_OBJS) -lcmocka $(LDLIBS)

# the agent's ring (agent/ring.c, also linked into the recorder) on its own
$(O)/tests/test_agent_ring: tests/unit/test_agent_ring.c $(O)/agent/ring.o $(LIB_OBJS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/agent/ring.o $(LIB_OBJS) -lcmocka $(LDLIBS)

test-unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# plwgen: writes .plw files from a text script through the format library,
# so report tests need neither root nor BPF (tests/tools/plwgen.c)
$(O)/tests/plwgen: tests/tools/plwgen.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

test-golden: $(O)/pylow $(O)/tests/plwgen
	$(Q)PYLOW=$(O)/pylow PLWGEN=$(O)/tests/plwgen tests/golden/run.sh
	$(Q)PYLOW=$(O)/pylow PLWGEN=$(O)/tests/plwgen SEEDS="1 2 3 4 5 6 7 8" tests/golden/check-planted.sh

test-integration: $(O)/pylow
	$(Q)PYLOW=$(O)/pylow tests/integration/run.sh

# several hosts in network namespaces, one recording each, stitched (issue #8)
test-multihost: $(O)/pylow
	$(Q)PYLOW=$(O)/pylow tests/integration/multihost.sh

test-agent: agent
	$(Q)agent/test/run.sh

test: test-unit test-golden test-agent test-integration test-multihost

# 'make check' installs what it needs, then runs every test, then the unit
# tests again under ASan+UBSan, then a short fuzz smoke.
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test
	$(Q)$(MAKE) --no-print-directory O=$(O)/san SAN=1 NO_BPF=1 test-unit
	$(Q)$(MAKE) --no-print-directory fuzz-smoke

deps:
	$(Q)tests/deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)PYLOW=$(O)/pylow demo/run.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)PYLOW=$(O)/pylow bench/run.sh

FUZZ_SECONDS ?= 60
$(O)/fuzz/fuzz_reader: tests/fuzz/fuzz_reader.c $(LIB_SRCS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -I. \
		$(shell pkg-config --cflags libtraceevent 2>/dev/null) -fsanitize=fuzzer,address,undefined \
		-o $@ $^ -lzstd -lm -ltraceevent

fuzz: $(O)/fuzz/fuzz_reader
	$(Q)tests/fuzz/run.sh $(O)/fuzz/fuzz_reader $(FUZZ_SECONDS)

fuzz-smoke: $(O)/fuzz/fuzz_reader
	$(Q)tests/fuzz/run.sh $(O)/fuzz/fuzz_reader 20

clean:
	$(Q)rm -rf $(O)

-include $(OBJS:.o=.d)
