#!/usr/bin/env bash
# Builds the Debian package (cargo-deb, installed into target/tools when missing), unpacks it
# into a scratch root with `dpkg -x`, and checks it as an installed tool: the binary checks the
# demo image, `man imgprep-check` renders from the package's man pages, every command has a man
# page, the bash completion loads, and the built-in rules are there to read.
#   scripts/deb.sh            release build, as packages are built
#   scripts/deb.sh --dev      the debug build the tests use (what test.sh checks: the packaging,
#                             not the optimiser)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "deb.sh: $*" >&2; exit 1; }

tools=$PWD/target/tools
if [ ! -x "$tools/bin/cargo-deb" ]; then
  cargo install -q --locked cargo-deb --root "$tools"
fi

profile=release dir=release
[ "${1:-}" = --dev ] && profile=dev dir=debug
cargo build --profile "$profile" --locked -q -p imgprep-cli
rm -rf "target/$dir/gen"
"target/$dir/imgprep" generate-docs "target/$dir/gen"
# Debian installs man pages compressed (gzip -n: no name or time stamp, reproducible).
gzip -9n "target/$dir"/gen/man/*.1
rm -rf target/debian
deb=$("$tools/bin/cargo-deb" -p imgprep-cli --profile "$profile" --no-build --locked -q | tail -n 1)
[ -f "$deb" ] || fail "cargo deb printed no package path (got: $deb)"
echo "package: $deb"
dpkg-deb --info "$deb" | grep -E '^ (Package|Version|Depends):'

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
bin=$root/usr/bin/imgprep
[ -x "$bin" ] || fail "no /usr/bin/imgprep in the package"
helper=$root/usr/lib/imgprep/imgprep-appliance
[ -x "$helper" ] || fail "no /usr/lib/imgprep/imgprep-appliance in the package"
# Only the helper links libguestfs; given no request it exits at once, launching nothing.
bin_libs=$(ldd "$bin") helper_libs=$(ldd "$helper")
if grep -q libguestfs <<<"$bin_libs"; then fail "/usr/bin/imgprep links libguestfs"; fi
grep -q libguestfs <<<"$helper_libs" || fail "imgprep-appliance does not link libguestfs"
"$helper" </dev/null || fail "imgprep-appliance with no request exited $?"

# Every visible command has its page.
for cmd in "" -inspect -check -prepare -rules -matrix -mapping; do
  [ -f "$root/usr/share/man/man1/imgprep$cmd.1.gz" ] || fail "no man page imgprep$cmd.1.gz"
done
# The page renders, found the way `man` finds pages, and documents the command's options.
page=$(MANPATH=$root/usr/share/man MANWIDTH=100 man imgprep-check 2>&1 | col -b) \
  || fail "man imgprep-check: $page"
grep -q 'imgprep-check' <<<"$page" || fail "man imgprep-check has no NAME"
grep -q -- '--profile' <<<"$page" || fail "man imgprep-check does not document --profile"
# Read whole before searching: `grep -q` stopping early would fail the pipeline (pipefail).
mapping=$(man -l "$root/usr/share/man/man1/imgprep-mapping.1.gz" 2>/dev/null | col -b) \
  || fail "man -l imgprep-mapping.1.gz: $mapping"
grep -q -- '--cloud' <<<"$mapping" || fail "man -l imgprep-mapping.1.gz does not document --cloud"

# The completions load and complete the subcommands.
bash -c "source '$root/usr/share/bash-completion/completions/imgprep' && complete -p imgprep" \
  >/dev/null || fail "bash completion does not load"
[ -s "$root/usr/share/zsh/vendor-completions/_imgprep" ] || fail "no zsh completion"
[ -s "$root/usr/share/fish/vendor_completions.d/imgprep.fish" ] || fail "no fish completion"

# The rules as files (the binary has them built in).
for f in rules/*.yaml; do
  cmp -s "$f" "$root/usr/share/doc/imgprep/rules/$(basename "$f")" || fail "$f not in the package"
done

# The installed binary checks the demo image (it fails a rule by design: exit 1) and reports
# every built-in rule of the profile.
img=images-test/demo/demo.qcow2
set +e
json=$("$bin" check "$img" --profile cloudcenter-worker --cloud openstack --format json)
code=$?
set -e
[ "$code" -eq 1 ] || fail "installed imgprep check exited $code, expected 1"
python3 - "$json" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
ids = [x["rule"] for x in r["results"]]
assert "agent.present" in ids and "bootstrap.supported" in ids, ids
assert any(x["status"] == "fail" for x in r["results"]), "no failing rule"
PY
"$bin" --version
echo "deb.sh: $(basename "$deb") installs and runs (check exit $code, man imgprep-check renders)"
