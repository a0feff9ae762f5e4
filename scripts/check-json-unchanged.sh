#!/usr/bin/env bash
# Compares `imgprep check --format json` of two builds on every fixture image, every built-in
# profile, without a cloud and with each cloud the tests use, and the parameter sets the tests
# use: stdout, stderr and exit status must be identical. For refactorings that must not change
# any verdict.
#
#   scripts/check-json-unchanged.sh REV            build REV (git archive into a temporary
#                                                 directory, its own target/) and compare it
#                                                 with this tree's debug build
#   OLD=/path/to/imgprep scripts/check-json-unchanged.sh   compare with a binary already built
#   NEW=/path/to/imgprep …                        instead of this tree's build
#
# Prints one line per differing run and a summary: images, profiles, runs, differences. Exit
# status 1 when anything differs. Builds missing fixtures first (images-test/build).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TERM_COLOR=never

if [ -z "${OLD:-}" ]; then
  rev=${1:?usage: scripts/check-json-unchanged.sh REV (or OLD=binary)}
  old_src=$(mktemp -d "${TMPDIR:-/tmp}/imgprep-old.XXXXXX")
  git archive "$rev" | tar -x -C "$old_src"
  (cd "$old_src" && cargo build -q -p imgprep-cli --locked)
  OLD=$old_src/target/debug/imgprep
fi
if [ -z "${NEW:-}" ]; then
  cargo build -q -p imgprep-cli --locked
  NEW=$repo/target/debug/imgprep
fi

images-test/build >/dev/null
cache=${IMGPREP_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imgprep/fixtures}
mapfile -t images < <(find "$cache" -mindepth 2 -maxdepth 2 -type f \
  \( -name '*.qcow2' -o -name '*.vmdk' -o -name '*.vhd' -o -name '*.vhdx' -o -name '*.img' \
     -o -name '*.raw' \) | grep -v "^$cache/\." | sort)
ca=$cache/rules-cloudcenter/bundle-store-ca.pem

# profile|params (space-separated KEY=VALUE), as the tests pass them.
variants=(
  "cloudcenter-worker|"
  "cloudcenter-worker|ca=$ca bundle_store=https"
  "cloudcenter-worker|bundle_store=http"
  "rackspace-nova-agent|"
  "cloudify-agent|"
  "cloudify-agent|python_versions=2.6,2.7"
)
clouds=("" openstack aws azure softlayer vmware rackspace)

out=$(mktemp -d "${TMPDIR:-/tmp}/imgprep-cmp.XXXXXX")
runs=0 diffs=0
for img in "${images[@]}"; do
  for v in "${variants[@]}"; do
    profile=${v%%|*} params=${v#*|}
    for cloud in "${clouds[@]}"; do
      args=(check "$img" --profile "$profile" --format json)
      [ -n "$cloud" ] && args+=(--cloud "$cloud")
      for p in $params; do args+=(--param "$p"); done
      set +e
      "$OLD" "${args[@]}" >"$out/old.out" 2>"$out/old.err"; old_rc=$?
      "$NEW" "${args[@]}" >"$out/new.out" 2>"$out/new.err"; new_rc=$?
      set -e
      runs=$((runs + 1))
      if [ $old_rc != $new_rc ] || ! cmp -s "$out/old.out" "$out/new.out" \
         || ! cmp -s "$out/old.err" "$out/new.err"; then
        diffs=$((diffs + 1))
        echo "DIFF ${img#$cache/} $profile ${cloud:-(no cloud)} $params: exit $old_rc -> $new_rc"
        if [ "${VERBOSE:-0}" = 1 ]; then
          diff "$out/old.out" "$out/new.out" | head -20 || true
          diff "$out/old.err" "$out/new.err" | head -5 || true
        fi
      fi
    done
  done
done
rm -rf "$out"
echo "images ${#images[@]}, profile/parameter sets ${#variants[@]}, clouds ${#clouds[@]}: $runs runs, $diffs differ"
[ "$diffs" = 0 ]
