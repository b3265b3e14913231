#!/usr/bin/env bash
# Regenerates tests/checkov/results.json: runs Checkov on every Terraform plan
# fixture and keeps, per fixture, the FAILED checks as
# {check_id, address, check_name}. See PROVENANCE.md for how the committed file
# was produced and how Checkov names resources.
#
# Usage: tests/checkov/record.sh [--out FILE]
#   --out FILE   write there instead of tests/checkov/results.json
#                (to compare a new Checkov version with the committed file)
#   CHECKOV=/path/to/checkov   the binary (default: checkov on PATH)
#   PYTHON=/path/to/python3    any Python 3 for the reduction (stdlib only)
#
# Needs Checkov from PyPI:
#   python3 -m venv /tmp/ckv && /tmp/ckv/bin/pip install checkov
#   CHECKOV=/tmp/ckv/bin/checkov tests/checkov/record.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/results.json"

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "record.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
done

CHECKOV="${CHECKOV:-checkov}"
PYTHON="${PYTHON:-python3}"
if ! command -v "$CHECKOV" >/dev/null 2>&1; then
  cat >&2 <<EOF
record.sh: Checkov not found ('$CHECKOV' is not an executable on PATH).
Nothing was recorded; tests/checkov/results.json is unchanged.
Install it from PyPI and point CHECKOV at it:
  python3 -m venv /tmp/ckv && /tmp/ckv/bin/pip install checkov
  CHECKOV=/tmp/ckv/bin/checkov $0
EOF
  exit 2
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "record.sh: Python 3 not found ('$PYTHON'); set PYTHON=/path/to/python3" >&2
  exit 2
fi

version="$("$CHECKOV" --version 2>/dev/null | tail -n 1)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/raw" "$tmp/utf8"

cd "$root"
: > "$tmp/manifest.tsv"
for plan in tests/fixtures/terraform/plans/*.json tests/scenarios/*.plan.json; do
  name="$(basename "$plan")"
  # Checkov 3.x reads UTF-16 plans itself (verified: identical results), but
  # scanning a UTF-8 copy keeps the recording independent of its detection.
  encoding="$("$PYTHON" - "$plan" "$tmp/utf8/$name" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
    text = data.decode("utf-16")
    open(sys.argv[2], "w", encoding="utf-8").write(text.lstrip("\ufeff"))
    print("utf-16le" if data[:2] == b"\xff\xfe" else "utf-16be")
else:
    print("utf-8")
EOF
)"
  scan="$plan"
  [ "$encoding" = "utf-8" ] || scan="$tmp/utf8/$name"
  echo "checkov: $plan ($encoding)" >&2
  rc=0
  "$CHECKOV" -f "$scan" --framework terraform_plan -o json --skip-download \
    > "$tmp/raw/$name" 2> "$tmp/raw/$name.err" || rc=$?
  # 0: all passed, 1: some failed; anything else is an error of Checkov's.
  if [ "$rc" -gt 1 ]; then
    echo "record.sh: checkov exited $rc on $plan:" >&2
    cat "$tmp/raw/$name.err" >&2
    exit 1
  fi
  printf '%s\t%s\t%s\n' "$plan" "$encoding" "$tmp/raw/$name" >> "$tmp/manifest.tsv"
done

"$PYTHON" - "$tmp/manifest.tsv" "$version" "$out" <<'EOF'
import datetime, json, sys

manifest, version, out = sys.argv[1:4]


def load_plan(path):
    data = open(path, "rb").read()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return json.loads(data.decode("utf-16"))
    return json.loads(data.decode("utf-8-sig"))


def plan_addresses(plan):
    """Every resource address the plan knows (changes, planned and prior state)."""
    found = set()
    for rc in plan.get("resource_changes") or []:
        found.add(rc["address"])

    def walk(module):
        if not module:
            return
        for r in module.get("resources") or []:
            found.add(r["address"])
        for child in module.get("child_modules") or []:
            walk(child)

    walk((plan.get("planned_values") or {}).get("root_module"))
    walk(((plan.get("prior_state") or {}).get("values") or {}).get("root_module"))
    return found


def provider_address(plan, key):
    """Checkov names provider blocks NAME.ALIAS ('aws.default' for no alias);
    Terraform's address is provider["registry.terraform.io/hashicorp/aws"][.ALIAS]."""
    configs = (plan.get("configuration") or {}).get("provider_config") or {}
    name, _, alias = key.partition(".")
    cfg = configs.get(key) or configs.get(name if alias == "default" else key) or {}
    full = cfg.get("full_name") or f"registry.terraform.io/hashicorp/{name}"
    suffix = "" if alias in ("", "default") else f".{alias}"
    return f'provider["{full}"]{suffix}', bool(cfg)


def normalise(resource, addresses, plan):
    """Maps Checkov's `resource` to a Terraform address; returns (address, kind)."""
    if resource in addresses:
        return resource, "resource"
    # Older Checkov releases dropped the module path; accept a unique suffix match.
    matches = [a for a in addresses if a.endswith("." + resource)]
    if len(matches) == 1:
        return matches[0], "resource"
    configs = (plan.get("configuration") or {}).get("provider_config") or {}
    name = resource.partition(".")[0]
    if resource in configs or name in configs or any(c.partition(".")[0] == name for c in configs):
        address, _ = provider_address(plan, resource)
        return address, "provider"
    raise SystemExit(f"record.sh: cannot map Checkov resource {resource!r} to a plan address")


fixtures = []
for line in open(manifest):
    path, encoding, raw_path = line.rstrip("\n").split("\t")
    raw = json.load(open(raw_path))
    if isinstance(raw, list):  # several frameworks: keep terraform_plan
        raw = next(r for r in raw if r.get("check_type") == "terraform_plan")
    plan = load_plan(path)
    addresses = plan_addresses(plan)
    entry = {"file": path, "encoding": encoding if encoding == "utf-8"
             else f"{encoding} (scanned as a temporary UTF-8 copy)"}
    if "results" not in raw:
        summary = raw
        entry.update({"resource_count": summary.get("resource_count", 0),
                      "passed_count": summary.get("passed", 0),
                      "failed_count": summary.get("failed", 0),
                      "note": "Checkov evaluated nothing in this file",
                      "evaluated": [], "failed": []})
        fixtures.append(entry)
        continue
    failed, evaluated = {}, set()
    for kind in ("failed_checks", "passed_checks"):
        for c in raw["results"][kind]:
            address, what = normalise(c["resource"], addresses, plan)
            evaluated.add(address)
            if kind == "failed_checks":
                item = {"check_id": c["check_id"], "address": address,
                        "check_name": c["check_name"]}
                if address != c["resource"]:
                    item["checkov_resource"] = c["resource"]
                if what != "resource":
                    item["kind"] = what
                failed[(c["check_id"], address)] = item
    summary = raw.get("summary", {})
    entry.update({
        "resource_count": summary.get("resource_count"),
        "passed_count": summary.get("passed"),
        "failed_count": summary.get("failed"),
        "evaluated": sorted(evaluated),
        "failed": [failed[k] for k in sorted(failed, key=lambda k: (k[1], k[0]))],
    })
    fixtures.append(entry)

result = {
    "checkov_version": version,
    "recorded": datetime.date.today().isoformat(),
    "command": "checkov -f FILE --framework terraform_plan -o json --skip-download",
    "produced_by": "tests/checkov/record.sh (see PROVENANCE.md)",
    "address_mapping": (
        "Checkov 3.x reports a plan resource in `resource` (and `resource_address`) by its "
        "full Terraform address, module path and index included "
        "(module.a.module.b.aws_s3_bucket.x[0], module.sg[\"k\"].aws_security_group.bad); "
        "every such name is checked against the plan's addresses and kept as is. "
        "Provider blocks (CKV_AWS_41) are named NAME.ALIAS by Checkov, `aws.default` "
        "for the unaliased one; they are recorded as provider[\"FULL_NAME\"][.ALIAS] "
        "with kind \"provider\" and the original name in checkov_resource."),
    "fixtures": fixtures,
}
with open(out, "w") as fh:
    json.dump(result, fh, indent=1, sort_keys=False)
    fh.write("\n")
total = sum(len(f["failed"]) for f in fixtures)
print(f"record.sh: Checkov {version}: {len(fixtures)} plans, {total} failed checks -> {out}",
      file=sys.stderr)
EOF
