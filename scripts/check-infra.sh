#!/usr/bin/env bash
# Infrastructure checks (npm run check:infra; called by .ci/run). Runs every check, prints one line per check and
# exits non-zero when any failed:
#   1. npx osls package, offline and without AWS credentials   -> .serverless/
#   2. cfn-lint on the packaged template and every infra/*.yaml
#   3. cfn-guard: the policy rules' own tests, then the rules on the packaged template and infra/
#   4. asl-validator on statemachines/*.asl.json (a note when there are none)
#   5. packer fmt -check and packer validate on packer/ (with Packer < 1.8: without packer/plugins.pkr.hcl, said so)
#   6. shellcheck on every *.sh in the repository (node_modules, .venv, .git excluded)
# Installs only what it lacks: the Python venv (scripts/setup-python.sh: cfn-lint), shellcheck and packer from
# Debian (apt-get, as root), cfn-guard from crates.io (cargo install, cached in ~/.cache/trino-sentinel).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

CFN_GUARD_VERSION=3.2.1
tool_cache="${XDG_CACHE_HOME:-$HOME/.cache}/trino-sentinel"
failures=()
step() { printf '\n=== check-infra: %s\n' "$*"; }
pass() { printf 'check-infra: PASS %s\n' "$1"; }
fail() {
  printf 'check-infra: FAIL %s\n' "$1"
  failures+=("$1")
}
run() {
  # run <name> <command…>: runs the command, records PASS/FAIL under <name>.
  local name="$1"
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

apt_install() {
  # apt_install <command> <package>: installs a Debian package when its command is missing.
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "check-infra: $1 is missing; install the Debian package $2" >&2
    return 1
  fi
  echo "check-infra: installing $2 (apt-get)"
  if [ -z "${apt_updated:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# ------------------------------------------------------------------------------------------------------- tools
step "tools"
bash scripts/setup-python.sh || fail "setup-python"
cfn_lint="${root}/.venv/bin/cfn-lint"
[ -x "$cfn_lint" ] || fail "cfn-lint missing from .venv (requirements-dev.txt)"
apt_install shellcheck shellcheck || fail "install shellcheck"
apt_install packer packer || fail "install packer"
cfn_guard="$(command -v cfn-guard || true)"
if [ -z "$cfn_guard" ]; then
  cfn_guard="${tool_cache}/cfn-guard-${CFN_GUARD_VERSION}/bin/cfn-guard"
  if [ ! -x "$cfn_guard" ]; then
    echo "check-infra: building cfn-guard ${CFN_GUARD_VERSION} from crates.io (once, ~3 min)"
    cargo install --quiet --locked cfn-guard --version "$CFN_GUARD_VERSION" \
      --root "${tool_cache}/cfn-guard-${CFN_GUARD_VERSION}" || fail "install cfn-guard"
  fi
fi
echo "check-infra: $("$cfn_lint" --version 2>&1), $("$cfn_guard" --version 2>&1), $(shellcheck --version 2>/dev/null | sed -n 2p), packer $(packer version 2>/dev/null | head -1)"

# ------------------------------------------------------------------------------------------------------- package
step "osls package (offline, no AWS credentials)"
rm -rf .serverless
run "osls package" env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  AWS_SDK_LOAD_CONFIG=0 npx --no-install osls package
packaged=.serverless/cloudformation-template-update-stack.json
mapfile -t infra_templates < <(find infra -maxdepth 2 -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) | sort)

# ------------------------------------------------------------------------------------------------------- cfn-lint
step "cfn-lint"
if [ -f "$packaged" ]; then
  # W3005: osls adds a DependsOn on the function's role next to the Role GetAtt (redundant, generated, harmless).
  run "cfn-lint ${packaged}" "$cfn_lint" --ignore-checks W3005 -- "$packaged"
else
  fail "cfn-lint (no packaged template)"
fi
if [ "${#infra_templates[@]}" -gt 0 ]; then
  run "cfn-lint infra/" "$cfn_lint" -- "${infra_templates[@]}"
fi

# ------------------------------------------------------------------------------------------------------- policy
step "policy (cfn-guard, policy/*.guard)"
guard_test() {
  # The rules' unit tests; verbose output only when one fails.
  local out
  if out="$("$cfn_guard" test -r policy/trino-sentinel.guard -t "$1" 2>&1)"; then return 0; fi
  printf '%s\n' "$out" | grep -B8 -E 'Expected = .*Evaluated' || printf '%s\n' "$out"
  return 1
}
if [ -x "$cfn_guard" ]; then
  for tests in policy/tests/*.yaml; do
    [ -e "$tests" ] || continue
    run "cfn-guard test ${tests}" guard_test "$tests"
  done
  for template in "$packaged" "${infra_templates[@]}"; do
    [ -f "$template" ] || continue
    run "cfn-guard validate ${template}" "$cfn_guard" validate -r policy/ -d "$template" --show-summary fail
  done
else
  fail "cfn-guard not available"
fi

# ------------------------------------------------------------------------------------------------------- ASL
step "asl-validator (statemachines/*.asl.json)"
mapfile -t asl_files < <(find statemachines -maxdepth 1 -name '*.asl.json' 2>/dev/null | sort)
if [ "${#asl_files[@]}" -eq 0 ]; then
  echo "check-infra: note: no statemachines/*.asl.json yet; asl-validator skipped"
elif [ ! -x node_modules/.bin/asl-validator ]; then
  fail "asl-validator is not installed (devDependency asl-validator)"
else
  for asl in "${asl_files[@]}"; do
    run "asl-validator ${asl}" npx --no-install asl-validator --json-path "$asl"
  done
fi

# ------------------------------------------------------------------------------------------------------- packer
step "packer (fmt -check, validate)"
run "packer fmt -check packer/" packer fmt -check -diff packer
packer_validate() {
  # A real build needs Packer >= 1.8 with the amazon plugin (packer/plugins.pkr.hcl, `packer init packer/`).
  # Debian's Packer 1.6.6 predates the packer { required_plugins } block (Packer 1.7), so it validates packer/
  # without packer/plugins.pkr.hcl; its built-in amazon-ebs builder accepts temporary_key_pair_type but only the
  # amazon plugin >= 1.0.7 honours it. validate makes no AWS call.
  local version dir
  version="$(packer version 2>/dev/null | head -1 | sed -n 's/^Packer v\([0-9.]*\).*/\1/p')"
  if [ "$(printf '%s\n1.8.0\n' "$version" | sort -V | head -1)" = 1.8.0 ]; then
    env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY packer validate packer
    return
  fi
  echo "check-infra: note: Packer ${version} predates required_plugins (Packer 1.7) and the amazon plugin's ed25519 temporary keys: validating packer/ without packer/plugins.pkr.hcl (syntax, variables, builder arguments). A real build needs Packer >= 1.8: packer init packer/ && packer build packer/ (docs/deploy.md)."
  dir="$(mktemp -d)"
  cp -r packer/. "$dir/"
  rm "$dir/plugins.pkr.hcl"
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY packer validate "$dir"
  local status=$?
  rm -rf "$dir"
  return "$status"
}
run "packer validate packer/" packer_validate

# ------------------------------------------------------------------------------------------------------- shell
step "shellcheck"
mapfile -t scripts < <(find . \( -path ./node_modules -o -path ./.venv -o -path ./.git -o -path ./.serverless -o -path ./.esbuild \) -prune -o -type f -name '*.sh' -print | sort)
if [ "${#scripts[@]}" -gt 0 ]; then
  run "shellcheck (${#scripts[@]} scripts)" shellcheck -x "${scripts[@]}"
fi

# ------------------------------------------------------------------------------------------------------- summary
echo
if [ "${#failures[@]}" -gt 0 ]; then
  printf 'check-infra: %d check(s) failed:\n' "${#failures[@]}"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "check-infra: all checks passed"
