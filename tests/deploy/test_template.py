"""The SAM template: least privilege (no wildcard action, no wildcard resource beyond a trailing one under
this stack's own bucket prefix or log group), and the pieces the deployment promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "aws" / "template.yaml"
OWN_WILDCARDS = ("${CallFilesBucket.Arn}/am/", ":log-group:${HttpLogGroup}:log-stream:",
                 ":log-group:${WorkerLogGroup}:log-stream:")


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !GetAtt ...) as {"Fn::X": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def load() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        docs = [p["PolicyDocument"] for p in props.get("Policies", []) if isinstance(p, dict) and "PolicyDocument" in p]
        docs += [props["PolicyDocument"]] if "PolicyDocument" in props else []
        found += [(name, statement) for doc in docs for statement in doc["Statement"]]
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, statement in statements(template):
        for action in _listed(statement.get("Action", [])):
            if "*" in str(action):
                problems.append(f"{name}: action {action}")
        for resource in _listed(statement.get("Resource", [])):
            text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else str(resource)
            if not isinstance(text, str):
                text = str(text)
            if "*" not in text:
                continue
            head, _, tail = text.rpartition("*")
            if tail or "*" in head or not any(own in head for own in OWN_WILDCARDS):
                problems.append(f"{name}: resource {text}")
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if props.get("ManagedPolicyArns") or (resource["Type"] == "AWS::Serverless::Function" and "Policies" in props):
            problems.append(f"{name}: managed or SAM policies (they grant on '*')")
    return problems


def test_no_wildcard_action_or_resource_in_any_policy() -> None:
    template = load()
    assert len(statements(template)) >= 10
    assert wildcard_problems(template) == []


@pytest.mark.parametrize("bad", [{"Action": "s3:*", "Resource": "arn:aws:s3:::b"},
                                 {"Action": "s3:GetObject", "Resource": "*"},
                                 {"Action": "sqs:SendMessage",
                                  "Resource": {"Fn::Sub": "arn:aws:sqs:*:${AWS::AccountId}:q"}},
                                 {"Action": "s3:GetObject", "Resource": {"Fn::Sub": "arn:aws:s3:::other-bucket/*"}}])
def test_the_check_catches_wildcards(bad: dict[str, Any]) -> None:
    template = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
        {"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", **bad}]}}]}}}}
    assert wildcard_problems(template)


def test_the_deployment_has_what_it_promises() -> None:
    template = load()
    resources = template["Resources"]
    functions = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    assert template["Globals"]["Function"]["Architectures"] == ["x86_64"]
    paths = {e["Properties"]["Path"] for e in functions["HttpFunction"]["Events"].values()}
    routes = {"/client-data", "/retrieve", "/post-call"}
    assert routes | {f"/Prod{route}" for route in routes} <= paths
    jobs = functions["WorkerFunction"]["Events"]["Jobs"]["Properties"]
    assert jobs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert all("ReservedConcurrentExecutions" in f for f in functions.values())
    bucket = resources["CallFilesBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]
    assert bucket["LifecycleConfiguration"]["Rules"]
    assert "RedrivePolicy" in resources["WorkQueue"]["Properties"]
    assert all("RetentionInDays" in r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup")
    alarms = {r["Properties"]["MetricName"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"ApproximateNumberOfMessagesVisible", "5xx"} <= alarms
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert not any("KEY" in name and "ARN" not in name for name in env), "secrets never in plain parameters"
