#!/usr/bin/env bash
# `make frontend`: build the NHS.UK frontend (the version pinned in frontend/package.json
# and frontend/package-lock.json, from the npm registry) into the shared static files
# every service serves at /static/nhsuk/. The built files are committed, so a fresh
# clone, `candour dev` and CI need neither npm nor the registry; MANIFEST.json records
# what they were built from and tests/unit/common/test_frontend_build.py checks that
# the committed files are exactly what this script made from the pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=libs/common/src/candour_common/web/static/nhsuk
PKG=frontend/node_modules/nhsuk-frontend/dist/nhsuk

echo "==> installing the pinned packages (npm ci)"
(cd frontend && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

rm -rf "$OUT"
mkdir -p "$OUT/assets/images"
echo "==> compiling frontend/nhsuk.scss"
frontend/node_modules/.bin/sass --pkg-importer=node --style=compressed --no-source-map \
  frontend/nhsuk.scss "$OUT/nhsuk-frontend.min.css"
cp "$PKG/nhsuk-frontend.min.js" "$OUT/nhsuk-frontend.min.js"
# Only the icons: the NHS logo and favicons are the NHS's marks, not Candour's.
cp "$PKG"/assets/images/nhsuk-icon-*.svg "$OUT/assets/images/"

echo "==> writing $OUT/MANIFEST.json"
python3 - "$OUT" <<'PY'
import hashlib, json, pathlib, sys

out = pathlib.Path(sys.argv[1])
lock = json.loads(pathlib.Path("frontend/package-lock.json").read_text())
packages = lock["packages"]
manifest = {
    "built_by": "scripts/build_frontend.sh (make frontend)",
    "nhsuk-frontend": packages["node_modules/nhsuk-frontend"]["version"],
    "sass": packages["node_modules/sass"]["version"],
    "package-lock.json sha256": hashlib.sha256(
        pathlib.Path("frontend/package-lock.json").read_bytes()
    ).hexdigest(),
    "files": {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != "MANIFEST.json"
    },
}
(out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
PY
echo "==> built nhsuk-frontend into $OUT"
