#!/usr/bin/env bash
# Sets up the Lambda runtime of the local cloud (harness/cloud/lambda-runtime.ts), once, in the cache
# ($TRINO_SENTINEL_CACHE, else $XDG_CACHE_HOME/trino-sentinel, else ~/.cache/trino-sentinel)/lambda-runtime/:
#   bin/aws-lambda-rie     the Lambda Runtime Interface Emulator (go install from the Go module proxy)
#   runtime/               what the nodejs22.x runtime provides above the function's code:
#     node_modules/aws-lambda-ric   the Node.js Runtime Interface Client (npm; native client built here)
#     node_modules/@aws-sdk/*       the AWS SDK v3 packages the project depends on, at the versions of its
#                                   package-lock.json (the bundles keep @aws-sdk/* external: the runtime ships it)
#   stamp                  what was installed; a second run with the same inputs only prints the paths.
# Node is the project's Node 22 (node_modules/node, from `npm ci`); its headers come from the npm registry's
# node-linux-<arch> package of the same version. Prints `RIE=<path>` and `RUNTIME=<path>` last.
# Idempotent; every failure names the step that failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
RIC_VERSION="4.0.2"

cache_base="${TRINO_SENTINEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trino-sentinel}"
cache="${cache_base}/lambda-runtime"
node22="${root}/node_modules/node/bin/node"

die() {
  echo "setup-lambda-runtime: FAILED: $*" >&2
  exit 1
}
log() { echo "setup-lambda-runtime: $*"; }

[ -x "$node22" ] || die "the project's Node 22 is missing (${node22}); run 'npm ci' first"
node_version="$("$node22" --version)"
case "$node_version" in
v22.*) ;;
*) die "expected Node 22 from node_modules/node, found ${node_version}" ;;
esac

# The @aws-sdk/* packages the project depends on (package.json "dependencies"), at the versions package-lock.json
# resolved: the bundles can import exactly these.
sdk_deps_json="$(
  cd "$root" && "$node22" -e '
    const pkg = require("./package.json");
    const lock = require("./package-lock.json");
    const out = {};
    for (const name of Object.keys(pkg.dependencies ?? {}).filter((n) => n.startsWith("@aws-sdk/")).sort()) {
      const entry = lock.packages?.["node_modules/" + name];
      if (!entry?.version) { console.error("no version for " + name + " in package-lock.json"); process.exit(1); }
      out[name] = entry.version;
    }
    process.stdout.write(JSON.stringify(out));
  '
)" || die "reading the @aws-sdk/* versions from package.json and package-lock.json"

want="$(
  {
    echo "rie=${RIE_MODULE}@${RIE_VERSION}"
    echo "ric=${RIC_VERSION}"
    echo "node=${node_version}"
    echo "sdk=${sdk_deps_json}"
    sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
  } | sha256sum | cut -d' ' -f1
)"
stamp="${cache}/stamp"
if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && [ -x "${cache}/bin/aws-lambda-rie" ] &&
  [ -f "${cache}/runtime/node_modules/aws-lambda-ric/rapid-client.node" ]; then
  log "up to date (${cache})"
  echo "RIE=${cache}/bin/aws-lambda-rie"
  echo "RUNTIME=${cache}/runtime"
  exit 0
fi

mkdir -p "${cache}/bin" || die "creating ${cache}/bin"
rm -f "$stamp"

# ---------------------------------------------------------------------------------------- aws-lambda-rie
command -v go >/dev/null 2>&1 || die "go is not installed (needed to install aws-lambda-rie from the Go module proxy)"
log "go install ${RIE_MODULE}@${RIE_VERSION}"
GOBIN="${cache}/bin" go install "${RIE_MODULE}@${RIE_VERSION}" ||
  die "go install ${RIE_MODULE}@${RIE_VERSION}"
[ -x "${cache}/bin/aws-lambda-rie" ] || die "go install did not produce ${cache}/bin/aws-lambda-rie"

# ---------------------------------------------------------------------------------------- runtime folder
# node-gyp needs the headers of the Node it builds for; it would download them from nodejs.org, which this machine
# cannot reach. The npm registry's node-linux-<arch> package (what the `node` devDependency installs) is the official
# Node tarball, include/node included: unpack it once into the cache and point node-gyp at it (npm_config_nodedir).
case "$(uname -m)" in
x86_64) node_arch=x64 ;;
aarch64 | arm64) node_arch=arm64 ;;
*) die "unsupported machine architecture $(uname -m)" ;;
esac
node_dir="${cache}/node-${node_version}-linux-${node_arch}"
if [ ! -f "${node_dir}/include/node/node.h" ]; then
  log "npm pack node-linux-${node_arch}@${node_version#v} (Node headers for node-gyp)"
  rm -rf "${node_dir}.tmp" && mkdir -p "${node_dir}.tmp"
  (cd "${node_dir}.tmp" && npm pack --silent "node-linux-${node_arch}@${node_version#v}" >/dev/null) ||
    die "npm pack node-linux-${node_arch}@${node_version#v}"
  tar -xzf "${node_dir}.tmp/node-linux-${node_arch}-"*.tgz -C "${node_dir}.tmp" package/include ||
    die "unpacking the Node headers from node-linux-${node_arch}@${node_version#v}"
  rm -rf "$node_dir" && mv "${node_dir}.tmp/package" "$node_dir" && rm -rf "${node_dir}.tmp"
  [ -f "${node_dir}/include/node/node.h" ] || die "no include/node/node.h in node-linux-${node_arch}@${node_version#v}"
fi

for tool in cmake make g++ python3; do
  command -v "$tool" >/dev/null 2>&1 || die "${tool} is missing: aws-lambda-ric@${RIC_VERSION} builds curl and aws-lambda-cpp with it"
done
staging="${cache}/runtime.staging.$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
# npm 11 runs a dependency's install scripts only when the project's package.json allows them ("allowScripts",
# npm help install-scripts); aws-lambda-ric's preinstall/postinstall build its native client, nothing else may.
RIC_VERSION="$RIC_VERSION" SDK_DEPS="$sdk_deps_json" "$node22" -e '
  const fs = require("node:fs");
  const ric = process.env.RIC_VERSION;
  const pkg = {
    name: "trino-sentinel-lambda-runtime",
    private: true,
    description: "What the nodejs22.x Lambda runtime provides above the function code (scripts/setup-lambda-runtime.sh)",
    dependencies: { "aws-lambda-ric": ric, ...JSON.parse(process.env.SDK_DEPS) },
    allowScripts: { ["aws-lambda-ric@" + ric]: true },
  };
  fs.writeFileSync(process.argv[1] + "/package.json", JSON.stringify(pkg, null, 2) + "\n");
' "$staging" || die "writing ${staging}/package.json"

log "npm install aws-lambda-ric@${RIC_VERSION} and ${sdk_deps_json} (builds the native client, ~1 min)"
(
  cd "$staging"
  # npm, its scripts and node-gyp run on the project's Node 22 (first on PATH), against its headers.
  PATH="$(dirname "$node22"):${PATH}" npm_config_nodedir="$node_dir" \
    npm install --no-audit --no-fund --omit=dev --loglevel=warn >"${staging}.log" 2>&1
) || {
  tail -n 40 "${staging}.log" >&2
  die "npm install in ${staging} (full log: ${staging}.log)"
}

ric_dir="${staging}/node_modules/aws-lambda-ric"
[ -f "${ric_dir}/rapid-client.node" ] ||
  die "aws-lambda-ric@${RIC_VERSION} has no rapid-client.node: its install scripts did not run (log: ${staging}.log)"
# The native client reads AWS_LAMBDA_RUNTIME_API when it loads (it aborts without it); nothing is contacted.
(cd "$staging" && AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 "$node22" -e 'require("./node_modules/aws-lambda-ric/rapid-client.node")') ||
  die "the native client ${ric_dir}/rapid-client.node does not load in Node ${node_version}"
# Every SDK package must import from a folder below the runtime folder, as the function's code will.
mkdir -p "${staging}/probe"
(cd "${staging}/probe" && SDK_DEPS="$sdk_deps_json" "$node22" --input-type=module -e '
  for (const name of Object.keys(JSON.parse(process.env.SDK_DEPS))) await import(name);
') || die "an @aws-sdk/* package does not import from a folder below ${staging}"
rmdir "${staging}/probe"

rm -rf "${cache}/runtime"
mv "$staging" "${cache}/runtime" || die "moving ${staging} to ${cache}/runtime"
mv "${staging}.log" "${cache}/runtime-install.log"
trap - EXIT
echo "$want" >"$stamp"
log "installed (${cache})"
echo "RIE=${cache}/bin/aws-lambda-rie"
echo "RUNTIME=${cache}/runtime"
