#!/usr/bin/env python3
"""Re-extract instance specs (vCPU, memory, GPUs/accelerators) from a moto wheel.

Usage (offline once the wheel is on disk):
    pip download --no-deps moto==5.2.5 -d /tmp/moto
    python3 extract_moto_specs.py /tmp/moto/moto-5.2.5-py3-none-any.whl

Reads moto/ec2/resources/instance_types.json.gz (AWS DescribeInstanceTypes-shaped data shipped
by moto) straight from the wheel and rewrites inputs/moto_instance_specs_subset.csv for the
instance types listed in inputs/karpenter_us-east-1_subset.txt. Stdlib only.
"""
import csv
import gzip
import hashlib
import io
import json
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = os.path.join(HERE, "inputs")
MEMBER = "moto/ec2/resources/instance_types.json.gz"


def main(wheel_path):
    with open(wheel_path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    with zipfile.ZipFile(wheel_path) as zf:
        data = json.load(gzip.open(io.BytesIO(zf.read(MEMBER))))
    wanted = re.findall(r'"([a-z0-9.-]+)": [0-9.]+',
                        open(os.path.join(INPUTS, "karpenter_us-east-1_subset.txt")).read())
    out = os.path.join(INPUTS, "moto_instance_specs_subset.csv")
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instance_type", "vcpu", "memory_mib", "gpus", "gpu_model", "wheel", "wheel_sha256"])
        for it in sorted(set(wanted)):
            rec = data.get(it)
            if rec is None:
                continue
            gpus, model = 0, ""
            if "GpuInfo" in rec:
                g = rec["GpuInfo"]["Gpus"]
                gpus = sum(x["Count"] for x in g)
                model = "; ".join(f'{x["Manufacturer"]} {x["Name"]}' for x in g)
            elif "NeuronInfo" in rec:
                n = rec["NeuronInfo"]["NeuronDevices"]
                gpus = sum(x["Count"] for x in n)
                model = "; ".join(f'AWS {x["Name"]} (Neuron accelerator)' for x in n)
            elif "InferenceAcceleratorInfo" in rec:
                a = rec["InferenceAcceleratorInfo"]["Accelerators"]
                gpus = sum(x["Count"] for x in a)
                model = "; ".join(f'{x["Manufacturer"]} {x["Name"]} (accelerator)' for x in a)
            w.writerow([it, rec["VCpuInfo"]["DefaultVCpus"], rec["MemoryInfo"]["SizeInMiB"],
                        gpus, model, os.path.basename(wheel_path), digest])
    print("wrote", out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
