#!/bin/sh
# Browser test of xfed-panel: Debian's chromium driven by playwright-core
# (npm). Installs the npm package from package-lock.json when missing; the
# browser is never downloaded (`npx playwright install` is not used).
# Env: XFED_BIN (built programs), XFED_SRC (source tree). Screenshots go to
# panel-screenshots/ in the working directory unless XFED_PANEL_SCREENSHOTS
# names another folder (XFED_PANEL_SCREENSHOTS=$XFED_SRC/docs/img refreshes
# the documentation's; the test never writes to the source tree by itself).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/chromium ]; then
    echo "browser test: /usr/bin/chromium is missing (apt-get install chromium)" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "browser test: node and npm are needed" >&2
    exit 1
fi
# the test's temporary files live in the build tree (ctest's working
# directory), not in a shared /tmp
XFED_PANEL_WORK=${XFED_PANEL_WORK:-$(pwd)}
export XFED_PANEL_WORK
cd "$here"
if [ ! -f node_modules/playwright-core/package.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
exec node browser_test.mjs
