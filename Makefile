# Kianax: build, run and test.
#
#   make            the custom nginx with every Kianax module (build/nginx)
#   make run        the whole platform in the foreground (Ctrl-C stops it)
#   make test       every unit and integration test (own PG, Redis, nginx)
#   make up | down | status     the same stack as `run`, in the background
#   make modules    the modules as .so files for Debian's nginx (nginx-dev)
#   make bench | fuzz | unit | clean
#
#   SAN=1           build and test with -fsanitize=address,undefined

ROOT   := $(abspath .)
SAN    ?=
ifeq ($(SAN),1)
BUILD  ?= build/san
else
BUILD  ?= build
endif
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

NGX_VER  := 1.22.1
NGX_SRC  := build/src/nginx-$(NGX_VER)
NGX_OBJS := $(BUILD)/objs
NGX_BIN  := $(BUILD)/nginx/sbin/nginx

NGX_WITH := --with-stream --with-threads --with-http_v2_module \
            --with-http_ssl_module --with-http_realip_module \
            --with-http_stub_status_module --with-pcre-jit

KX_CC_OPT := -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror
KX_LD_OPT :=
ifeq ($(SAN),1)
# nginx's own ngx_cycle.c passes NULL with length 0 to memcpy.  Locals
# start as a non-zero pattern, not as whatever the stack held: a read of
# memory never written (hiredis's strchr() past a command's end, once)
# then runs on and ASan reports it every time, where stale zeros hid it
KX_CC_OPT += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined \
             -fno-sanitize=nonnull-attribute \
             -ftrivial-auto-var-init=pattern
KX_LD_OPT += -fsanitize=address,undefined
export LSAN_OPTIONS := suppressions=$(ROOT)/t/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS := print_stacktrace=1
endif

KX_SRCS := config $(wildcard src/*/*.c src/*/*.h modules/*.c modules/*.h \
                             modules/io/*.c modules/io/*.h)

export KX_NGINX := $(ROOT)/$(NGX_BIN)
export KX_SAN   := $(SAN)

.PHONY: all nginx deps modules run up down status test test-unit \
        test-integration unit bench fuzz clean distclean

all: nginx

deps:
	@scripts/kx-deps

$(NGX_SRC)/configure:
	@scripts/kx-nginx-src build

# Reconfigure when the addon script or the set of source files changes;
# nginx's own Makefile tracks edits inside known files.
$(BUILD)/.configured: $(NGX_SRC)/configure config Makefile \
                      $(BUILD)/.srclist
	@echo "[nginx] configure ($(BUILD))"
	@mkdir -p $(BUILD)
	@cd $(NGX_SRC) && ./configure --builddir=$(ROOT)/$(NGX_OBJS) \
	    --prefix=$(ROOT)/$(BUILD)/nginx $(NGX_WITH) \
	    --add-module=$(ROOT) \
	    --with-cc-opt='$(KX_CC_OPT)' --with-ld-opt='$(KX_LD_OPT)' \
	    > $(ROOT)/$(BUILD)/configure.log 2>&1 \
	    || { tail -n 30 $(ROOT)/$(BUILD)/configure.log; exit 1; }
	@touch $@

$(BUILD)/.srclist: FORCE
	@mkdir -p $(BUILD)
	@echo '$(sort $(wildcard src/*/*.c modules/*.c modules/io/*.c))' \
	    > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@

nginx: deps $(BUILD)/.configured
	@echo "[nginx] build $(NGX_BIN)"
	@scripts/kx-progress "[nginx]" \
	    $(MAKE) -C $(NGX_SRC) -f $(ROOT)/$(NGX_OBJS)/Makefile -j$(JOBS) \
	    || exit 1
	@mkdir -p $(BUILD)/nginx/sbin $(BUILD)/nginx/conf $(BUILD)/nginx/logs
	@cp -p $(NGX_OBJS)/nginx $(NGX_BIN).new && mv $(NGX_BIN).new $(NGX_BIN)
	@cp -p $(NGX_SRC)/conf/mime.types $(BUILD)/nginx/conf/
	@echo "[nginx] ok: $$($(NGX_BIN) -v 2>&1)"

# The same modules as .so files against Debian's nginx-dev, for Debian's
# /usr/sbin/nginx (which is built --with-compat).
modules: deps
	@scripts/kx-modules $(BUILD)/dyn

include mk/core.mk

test-unit: unit

test-integration: nginx
	@echo "[test] integration tests"
	@KX_MODULES_DIR=$(ROOT)/$(BUILD)/dyn prove -I t/lib -r t/

test: deps nginx modules test-unit fuzz-short test-integration

run: nginx
	@scripts/kx-stack run

up: nginx
	@scripts/kx-stack up

down:
	@scripts/kx-stack down

status:
	@scripts/kx-stack status

bench: nginx
	@scripts/kx-bench $(BENCH)

clean:
	rm -rf build/objs build/san build/nginx build/dyn build/unit build/fuzz

distclean:
	rm -rf build

FORCE:
