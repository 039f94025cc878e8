#!/usr/bin/env bash
# Validates campaign-indexed-job.yaml against the official Kubernetes OpenAPI schemas
# (kubernetes-validate from PyPI bundles them; no cluster needed), for a Kubernetes version
# where Indexed Jobs and backoffLimitPerIndex exist, with unknown fields refused (--strict).
# Then checks what the schema cannot: SHARDS equals completions, and the command uses the
# completion index. Usage: scripts/cluster/validate-k8s.sh [KUBERNETES_VERSION, default 1.30.0]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
manifest=$here/campaign-indexed-job.yaml
version=${1:-1.30.0}
if ! command -v kubernetes-validate >/dev/null; then
    python3 -m pip install --quiet kubernetes-validate
fi
kubernetes-validate --strict --kubernetes-version "$version" "$manifest"
python3 - "$manifest" <<'PY'
import sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
spec = job["spec"]
container = spec["template"]["spec"]["containers"][0]
env = {e["name"]: e["value"] for e in container.get("env", [])}
problems = []
if spec.get("completionMode") != "Indexed":
    problems.append("completionMode is not Indexed")
if int(env.get("SHARDS", -1)) != spec["completions"]:
    problems.append(f"SHARDS={env.get('SHARDS')} but completions={spec['completions']}")
command = " ".join(container["command"] + container["args"])
for needle in ("JOB_COMPLETION_INDEX", "--shard", "--out", "campaign"):
    if needle not in command:
        problems.append(f"the command does not mention {needle}")
if problems:
    sys.exit("campaign-indexed-job.yaml: " + "; ".join(problems))
print(f"campaign-indexed-job.yaml: {spec['completions']} shards, SHARDS matches completions, "
      "each pod runs its JOB_COMPLETION_INDEX shard")
PY
