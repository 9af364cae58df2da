#!/usr/bin/env bash
# The Dockerfile's steps without Docker: a production install into a clean directory, then the entrypoint started
# as the numeric non-root user (65532) on a read-only working tree, probed over HTTPS, and stopped with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || npm run build

# The runtime is the Dockerfile's, read from it so that this line cannot disagree with the image.
runtime=$(sed -n 's/^FROM \([^ ]*distroless[^ ]*\).*/\1/p' Dockerfile)
builder=$(sed -n 's/^FROM \(node:[^ ]*\) AS build$/\1/p' Dockerfile)
[ -n "$runtime" ] && [ -n "$builder" ] || { echo "image: FAIL: no build or runtime image found in the Dockerfile"; exit 1; }
echo "image: the image builds on $builder and runs on $runtime (Node 20 is end-of-life);" \
  "these steps run on this machine's Node $(node --version), as the code supports Node >= 20.19"

uid=65532
port=${IMAGE_TEST_PORT:-18543}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
app="$work/app"
mkdir -p "$app" "$work/tls"

echo "image: production install into $app"
cp package.json package-lock.json "$app/"
# No lifecycle scripts, as in the Dockerfile: `prepare` would build with tsc, which a production install lacks.
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
cp -r dist examples "$app/"
if [ -d "$app/node_modules/vitest" ] || [ -d "$app/node_modules/typescript" ]; then
  echo "image: FAIL: development dependencies were installed"; exit 1
fi

echo "image: serving certificate and read-only tree"
node dist/cli/main.js certs --out "$work/tls" --kustomize-dir "$work/tls/k" --san 127.0.0.1 >/dev/null
chown -R "$uid:$uid" "$work/tls"
chmod 755 "$work"
chmod -R a-w "$app"

echo "image: starting the entrypoint as uid $uid"
setpriv --reuid "$uid" --regid "$uid" --clear-groups env HOME=/nonexistent NODE_ENV=production \
  node "$app/dist/cli/main.js" serve --host 127.0.0.1 --port "$port" \
  --rules "$app/examples/rules.yaml" --nodes "$app/examples/nodes.yaml" --namespaces "$app/examples/namespaces.yaml" \
  --tls-cert "$work/tls/tls.crt" --tls-key "$work/tls/tls.key" >"$work/serve.log" 2>&1 &
pid=$!

ok=
for _ in $(seq 1 50); do
  if curl -sf --cacert "$work/tls/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
if [ -z "$ok" ]; then echo "image: FAIL: /healthz did not answer"; cat "$work/serve.log"; exit 1; fi
curl -sf --cacert "$work/tls/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null
patch=$(curl -sf --cacert "$work/tls/ca.crt" -H 'Content-Type: application/json' \
  --data @examples/admission/create-pod-spot-consumer.json "https://127.0.0.1:$port/mutate" \
  | sed -E 's/.*"patch":"([^"]+)".*/\1/' | base64 -d)
case "$patch" in
  *'"lifecycle":"Ec2Spot"'*) ;;
  *) echo "image: FAIL: unexpected patch: $patch"; exit 1 ;;
esac
user=$(ps -o uid= -p "$pid" | tr -d ' ')
[ "$user" = "$uid" ] || { echo "image: FAIL: running as uid $user"; exit 1; }

kill -TERM "$pid"
code=0; wait "$pid" || code=$?
[ "$code" = 0 ] || { echo "image: FAIL: exit code $code after SIGTERM"; cat "$work/serve.log"; exit 1; }
grep -q '"msg":"stopped"' "$work/serve.log" || { echo "image: FAIL: no graceful stop"; cat "$work/serve.log"; exit 1; }
echo "image: ok (healthz, readyz, mutate as uid $uid on a read-only tree; graceful stop)"
