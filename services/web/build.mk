# services/web/build.mk — the web UI (TypeScript, React, Vite) built into
# $(BUILD)/web, which `make run` and the tests hand to the gateway as its
# static_dir.  npm ci installs exactly what package-lock.json says; the API
# types are generated on every build from the gateway's contract
# ($(GW_OPENAPI_JSON), which the gateway's build.mk names): the one thing the UI
# takes from another service, so the two cannot drift apart silently.
# Without npm the UI is skipped with a message; every C target still builds.

WEB_DIR := services/web
WEB_OUT := $(BUILD)/web
NPM     := $(shell command -v npm 2>/dev/null)
WEB_SRC := $(shell find $(WEB_DIR)/src -type f ! -name '*.gen.ts' 2>/dev/null) \
           $(addprefix $(WEB_DIR)/,index.html vite.config.ts tsconfig.json package.json) \
           $(GW_OPENAPI_JSON)
WEB_MODULES := $(WEB_DIR)/node_modules/.package-lock.json

ifneq ($(NPM),)
web: $(WEB_OUT)/index.html

$(WEB_MODULES): $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_OUT)/index.html: $(WEB_SRC) $(WEB_MODULES)
	cd $(WEB_DIR) && TD_WEB_OUT=$(abspath $(WEB_OUT)) npm run --silent build
else
web:
	@echo "web UI: npm not found, so $(WEB_OUT) (the UI the gateway serves) is not built." >&2
	@echo "        Install Node.js 20 and npm (Debian: apt-get install nodejs npm, or make deps), then run make again." >&2
endif
