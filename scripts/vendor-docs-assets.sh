#!/usr/bin/env bash
# Swagger UI and ReDoc for the API's offline /docs and /redoc: fetched from the npm registry at the
# pinned versions, and only the built files the pages load (with their licences) copied into the package.
# Run it to upgrade them (change the versions below), then commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

SWAGGER_UI_DIST=5.36.0
REDOC=2.5.4
VENDOR=services/api/sie_api/console/static/vendor

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI_DIST" "redoc@$REDOC" >/dev/null)
mkdir -p "$work/swagger" "$work/redoc"
tar xzf "$work/swagger-ui-dist-$SWAGGER_UI_DIST.tgz" -C "$work/swagger"
tar xzf "$work/redoc-$REDOC.tgz" -C "$work/redoc"

rm -rf "$VENDOR/swagger-ui" "$VENDOR/redoc"
mkdir -p "$VENDOR/swagger-ui" "$VENDOR/redoc"
cp "$work/swagger/package/"{swagger-ui-bundle.js,swagger-ui-bundle.js.LICENSE.txt,swagger-ui.css,LICENSE,NOTICE} \
  "$VENDOR/swagger-ui/"
cp "$work/redoc/package/bundles/"{redoc.standalone.js,redoc.standalone.js.LICENSE.txt} "$work/redoc/package/LICENSE" \
  "$VENDOR/redoc/"
# The bundles name their source maps, which are not shipped: drop the reference so no browser asks.
sed -i '/^\/\/# sourceMappingURL=/d' "$VENDOR/swagger-ui/swagger-ui-bundle.js" "$VENDOR/redoc/redoc.standalone.js"
sed -i 's|/\*# sourceMappingURL=[^*]*\*/||' "$VENDOR/swagger-ui/swagger-ui.css"
# ReDoc's one asset from elsewhere, its sidebar logo, from its CDN: an empty data: URL instead fails to
# load, and ReDoc then leaves the image out (its own onError), so the page asks no other host.
grep -q 'https://cdn.redoc.ly/redoc/logo-mini.svg' "$VENDOR/redoc/redoc.standalone.js"
sed -i 's|https://cdn.redoc.ly/redoc/logo-mini.svg|data:,|' "$VENDOR/redoc/redoc.standalone.js"
if grep -Eo '"https?://[^"]*\.(svg|png|css|js|woff2?)"' "$VENDOR/redoc/redoc.standalone.js" "$VENDOR/swagger-ui/"*.js; then
  echo "a bundle loads an asset from another host (above): handle it here" >&2
  exit 1
fi
printf 'swagger-ui-dist %s\nredoc %s\n' "$SWAGGER_UI_DIST" "$REDOC" > "$VENDOR/VERSIONS"
echo "vendored swagger-ui-dist $SWAGGER_UI_DIST and redoc $REDOC into $VENDOR"
