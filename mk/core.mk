# Kianax pure C core (src/core): unit tests and fuzzing.
#
# Included by the top-level Makefile, or run alone from the project root:
#     make -f mk/core.mk unit            # build and run t/unit/test_*.c
#     make -f mk/core.mk SAN=1 unit      # the same under ASan + UBSan
#     make -f mk/core.mk fuzz-short      # each fuzz target FUZZ_SECONDS
#     make -f mk/core.mk fuzz            # each fuzz target FUZZ_LONG_SECONDS
#
# File lists come from wildcards, so a new src/core/*.c, t/unit/test_*.c
# or fuzz/fuzz_*.c is picked up without editing this file.

# remember the includer's default goal: see the end of this file
KX_CORE_GOAL_SAVED := $(.DEFAULT_GOAL)

BUILD ?= build
CC ?= cc
SAN ?=
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 600
PROVE ?= prove

# every pure-C directory of src/ (core, gateway, trading, ...)
KX_CORE_SRCS := $(wildcard src/*/*.c)
KX_CORE_HDRS := $(wildcard src/*/*.h)
KX_CORE_LIBS ?= -lyajl -ljwt -largon2 -lcrypto

KX_UNIT_SRCS := $(wildcard t/unit/test_*.c)
KX_UNIT_BINS := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(KX_UNIT_SRCS))

KX_FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
KX_FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(KX_FUZZ_SRCS))
KX_FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(KX_FUZZ_NAMES))

KX_CORE_OPT ?= -O2 -g
KX_CORE_WARN := -std=gnu99 -Wall -Wextra -Wpointer-arith -Werror
KX_CORE_SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
                     -fno-sanitize-recover=undefined \
                     -ftrivial-auto-var-init=pattern

KX_UNIT_CFLAGS := $(KX_CORE_WARN) $(KX_CORE_OPT) -Isrc
KX_UNIT_LDFLAGS :=

ifeq ($(SAN),1)
KX_UNIT_CFLAGS += $(KX_CORE_SAN_FLAGS)
KX_UNIT_LDFLAGS += $(KX_CORE_SAN_FLAGS)
endif

KX_UNIT_OBJDIR := $(BUILD)/unit/obj
KX_CORE_OBJS := $(patsubst src/%.c,$(KX_UNIT_OBJDIR)/src/%.o,$(KX_CORE_SRCS))

# binaries keep one path whatever SAN is, so a change of flags (recorded
# here only when it differs) rebuilds everything
KX_UNIT_STAMP := $(BUILD)/unit/.flags
KX_UNIT_SIG := $(CC) $(KX_UNIT_CFLAGS) $(KX_UNIT_LDFLAGS) $(KX_CORE_LIBS)

KX_FUZZ_CFLAGS := -std=gnu99 -Wall -Wextra -Werror -g -O1 -Isrc \
                  -fsanitize=fuzzer,address,undefined \
                  -fno-sanitize-recover=undefined -fno-omit-frame-pointer
KX_FUZZ_WORK := $(BUILD)/fuzz/work
KX_FUZZ_OPTS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1


.PHONY: unit unit-build fuzz fuzz-build fuzz-short kx-core-force


unit-build: $(KX_UNIT_BINS)

unit: unit-build
	$(PROVE) --exec '' $(KX_UNIT_BINS)

$(KX_UNIT_STAMP): kx-core-force
	@mkdir -p $(@D)
	@echo '$(KX_UNIT_SIG)' | cmp -s - $@ || echo '$(KX_UNIT_SIG)' > $@

$(KX_UNIT_OBJDIR)/src/%.o: src/%.c $(KX_UNIT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KX_UNIT_CFLAGS) -MMD -MP -c $< -o $@

$(KX_UNIT_OBJDIR)/test_%.o: t/unit/test_%.c $(KX_UNIT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KX_UNIT_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/unit/test_%: $(KX_UNIT_OBJDIR)/test_%.o $(KX_CORE_OBJS)
	$(CC) $(KX_UNIT_LDFLAGS) -o $@ $< $(KX_CORE_OBJS) $(KX_CORE_LIBS)

# make would delete the objects as intermediates and rebuild them
.SECONDARY: $(KX_CORE_OBJS) \
            $(patsubst $(BUILD)/unit/%,$(KX_UNIT_OBJDIR)/%.o,$(KX_UNIT_BINS))

-include $(wildcard $(KX_UNIT_OBJDIR)/*.d $(KX_UNIT_OBJDIR)/src/*/*.d)


fuzz-build: $(KX_FUZZ_BINS)

# sources and headers are few: each target is one clang command
$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(KX_CORE_SRCS) \
                      $(KX_CORE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(KX_FUZZ_CFLAGS) -o $@ $< $(KX_CORE_SRCS) $(KX_CORE_LIBS)

# $(1): seconds.  The seeds are copied into a scratch corpus under
# $(BUILD), which grows across runs; fuzz/corpus/ is never written.
define kx_fuzz_run
	@set -e; for t in $(KX_FUZZ_NAMES); do \
	    dir=$(KX_FUZZ_WORK)/$$t; \
	    mkdir -p $$dir/corpus $$dir/artifacts; \
	    if [ -d fuzz/corpus/$$t ]; then \
	        cp -p fuzz/corpus/$$t/* $$dir/corpus/ 2>/dev/null || true; \
	    fi; \
	    echo "fuzz $$t: $(1) s, corpus $$dir/corpus"; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(1) $(KX_FUZZ_OPTS) \
	        -artifact_prefix=$$dir/artifacts/ $$dir/corpus \
	        > $$dir/log 2>&1 \
	        || { tail -n 60 $$dir/log; echo "fuzz $$t FAILED:" \
	             "see $$dir/log and $$dir/artifacts/"; exit 1; }; \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' \
	        $$dir/log || true; \
	done
endef

fuzz-short: fuzz-build
	$(call kx_fuzz_run,$(FUZZ_SECONDS))

fuzz: fuzz-build
	$(call kx_fuzz_run,$(FUZZ_LONG_SECONDS))


# Included: leave the includer's default goal alone.  Alone: run the tests.
ifeq ($(firstword $(MAKEFILE_LIST)),mk/core.mk)
.DEFAULT_GOAL := unit
else
.DEFAULT_GOAL := $(KX_CORE_GOAL_SAVED)
endif
