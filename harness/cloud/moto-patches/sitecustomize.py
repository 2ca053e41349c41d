"""Test infrastructure: nine fixes to moto 5.2.5 so `osls deploy` of serverless.yml completes and the instances it launches run.

Loaded by Python at start-up (`sitecustomize`) when this directory is on PYTHONPATH; it changes nothing unless the
process is moto_server. harness/cloud/stacks.ts lists them too (docs/harness.md, "The stacks as deployed"):

1. ValidateTemplate fails on any cfn-lint match, warnings included. osls adds the function's role to each function's
   DependsOn, which cfn-lint reports as W3005 ("dependency already enforced by a 'GetAtt'"), so moto answers
   `ValidationError: Stack with id 'ClusterMetricsRole' dependency already enforced by a 'GetAtt' at
   'Resources/ClusterMetricsLambdaFunction/Properties/Role' does not exist`. AWS's ValidateTemplate does not lint.
   Fix: only cfn-lint errors (rule ids E…) fail the validation.
2. moto's CloudFormation has no model for AWS::Lambda::Url, so `ResourceMap.validate_outputs` calls
   `None.has_cfn_attr('FunctionUrl')` for the Output `Fn::GetAtt [QueryLogIngestLambdaFunctionUrl, FunctionUrl]`
   and CreateStack/UpdateStack answer HTTP 500 (`AttributeError: 'NoneType' object has no attribute
   'has_cfn_attr'`). Fix: a model that creates the URL with moto's own Lambda backend
   (`create_function_url_config`), so GetFunctionUrlConfig answers for the deployed function as on AWS.
   Its delete tolerates a function already deleted: moto deletes a stack's resources in no dependency order, and
   the URL's UnknownFunctionException (HTTP 404) made `osls remove` fail now and then.
3. moto's AWS::AutoScaling::AutoScalingGroup ignores `LifecycleHookSpecificationList`: the worker group of
   infra/trino-cluster.yaml would have no `trino-sentinel-drain` termination hook (DescribeLifecycleHooks: []).
   Fix: create each listed hook with moto's own `create_lifecycle_hook` after the group.
4. moto registers a stack's exports on CreateStack only; osls creates the stack with the deployment bucket alone and
   adds everything else with UpdateStack, so the control plane's export (TerminationPolicyFunctionArn) never
   appears in ListExports. Fix: after UpdateStack, the stack's exports replace the ones it had.
5. moto's AWS::EC2::SecurityGroup ignores `SecurityGroupEgress` (the group keeps the default allow-all egress) and
   it has no model for AWS::EC2::SecurityGroupEgress (skipped): the control-plane group of infra/ would allow all
   egress instead of 443 + the Trino port to the coordinators and workers. Fix: a group with `SecurityGroupEgress`
   loses the default rule and gets the listed ones; a model for AWS::EC2::SecurityGroupEgress, both through moto's
   own `authorize_security_group_egress` / `revoke_security_group_egress`.
6. Instances an Auto Scaling group launches from a launch template lack the template's `IamInstanceProfile`
   (`FakeAutoScalingGroup.replace_autoscaling_group_instances` passes only the template's id to `run_instances`,
   which copies user data, type and key but no profile): the instance metadata service has no credentials and the
   AMI's renderer fails with `Unable to locate credentials`. Fix: after `run_instances` with a launch template,
   associate the template's profile (moto's own `associate_iam_instance_profile`).
7. AWS::EC2::NetworkInterface reads its groups from `SecurityGroups` (CloudFormation's property is `GroupSet`) and
   drops its Tags: the coordinator ENI carried the VPC's default group, so no client reached the coordinator on the
   ENI address (its ingress rules were the default group's). Fix: `GroupSet` passed as the groups, Tags created.
8. UpdateAutoScalingGroup ignores `TerminationPolicies` (moto: "not yet implemented"): the worker group stayed on
   `Default` after osls's cluster-wiring plugin set the custom termination policy Lambda, so a scale-in never asked
   it. Fix: the listed policies are stored on the group.
9. A network interface's private addresses are not reserved in its subnet (`NetworkInterface` never calls
   `Subnet.request_ip`; only instances' addresses are), so the instance allocator hands the coordinator ENI's
   address to a later instance as its primary address: after enough replacements (the fourth failover in a row on
   the deployed topology) a new standby booted with 10.42.1.10 as its own address, answered the health probes meant
   for the hung coordinator, and no failover started. On EC2 an address belongs to one interface. Fix: an
   interface's addresses are reserved in its subnet while it exists (an address already held, e.g. an instance's
   primary interface's, is left as it is).
"""

import os
import sys


def _apply() -> None:
    from typing import Any

    from moto.autoscaling.models import FakeAutoScalingGroup, autoscaling_backends
    from moto.awslambda.models import lambda_backends
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.security_groups import SecurityGroup

    original_validate = cfn_models.CloudFormationBackend.validate_template

    def validate_template(self: Any, template: str) -> list[Any]:
        return [m for m in original_validate(self, template) if str(m.rule.id).startswith("E")]

    cfn_models.CloudFormationBackend.validate_template = validate_template  # type: ignore[method-assign]

    original_update_stack = cfn_models.CloudFormationBackend.update_stack

    def update_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        stack = original_update_stack(self, name, *args, **kwargs)
        for export_name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            self.exports.pop(export_name)
        for export in stack.exports:
            self.exports[export.name] = export
        return stack

    cfn_models.CloudFormationBackend.update_stack = update_stack  # type: ignore[method-assign]

    original_create_group = FakeAutoScalingGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_group(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        group = original_create_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = autoscaling_backends[account_id][region_name]
        for spec in cloudformation_json["Properties"].get("LifecycleHookSpecificationList", []):
            timeout = spec.get("HeartbeatTimeout")
            backend.create_lifecycle_hook(
                name=spec["LifecycleHookName"],
                as_name=group.name,
                transition=spec["LifecycleTransition"],
                timeout=int(timeout) if timeout is not None else None,
                result=spec.get("DefaultResult", "ABANDON"),
            )
        return group

    FakeAutoScalingGroup.create_from_cloudformation_json = classmethod(create_group)  # type: ignore[method-assign]

    def egress(backend: Any, group_id: str, rule: dict[str, Any], vpc_id: str | None) -> None:
        destination = rule.get("DestinationSecurityGroupId")
        backend.authorize_security_group_egress(
            group_name_or_id=group_id,
            ip_protocol=str(rule["IpProtocol"]),
            from_port=rule.get("FromPort"),
            to_port=rule.get("ToPort"),
            ip_ranges=[{"CidrIp": rule["CidrIp"], "Description": rule.get("Description")}] if "CidrIp" in rule else [],
            source_groups=[{"GroupId": destination}] if destination else [],
            vpc_id=vpc_id,
        )

    original_create_security_group = SecurityGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_security_group(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        group = original_create_security_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        rules = cloudformation_json["Properties"].get("SecurityGroupEgress")
        if rules:
            backend = ec2_backends[account_id][region_name]
            # AWS: a group created with egress rules has exactly those (no default allow-all rule).
            backend.revoke_security_group_egress(
                group_name_or_id=group.id,
                ip_protocol="-1",
                from_port=None,
                to_port=None,
                ip_ranges=[{"CidrIp": "0.0.0.0/0"}],
                vpc_id=group.vpc_id,
            )
            for rule in rules:
                egress(backend, group.id, rule, group.vpc_id)
        return group

    SecurityGroup.create_from_cloudformation_json = classmethod(create_security_group)  # type: ignore[method-assign]

    class SecurityGroupEgress(CloudFormationModel):  # type: ignore[misc]
        """AWS::EC2::SecurityGroupEgress (CloudFormation docs): one egress rule of GroupId."""

        __module__ = "moto.ec2.models"

        def __init__(self, group_id: str, properties: dict[str, Any]) -> None:
            self.group_id = group_id
            self.properties = properties

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::EC2::SecurityGroupEgress"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Id"

        @property
        def physical_resource_id(self) -> str:
            return f"{self.group_id}-egress-{self.properties.get('IpProtocol')}-{self.properties.get('FromPort')}"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "SecurityGroupEgress":
            properties = cloudformation_json["Properties"]
            backend = ec2_backends[account_id][region_name]
            group = backend.get_security_group_by_name_or_id(properties["GroupId"])
            egress(backend, properties["GroupId"], properties, group.vpc_id if group else None)
            return cls(properties["GroupId"], properties)

        def is_created(self) -> bool:
            return True

    class LambdaUrl(CloudFormationModel):  # type: ignore[misc]
        """AWS::Lambda::Url: Ref = the function ARN; attributes FunctionArn, FunctionUrl (CloudFormation docs)."""

        # moto's model registry (InstanceTrackerMeta) files a model under the service named in its module path.
        __module__ = "moto.awslambda.models"

        def __init__(self, function_arn: str, url: str) -> None:
            self.function_arn = function_arn
            self.url = url

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Url"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("FunctionArn", "FunctionUrl")

        @property
        def physical_resource_id(self) -> str:
            return self.function_arn

        def get_cfn_attribute(self, attribute_name: str) -> str:
            if attribute_name == "FunctionArn":
                return self.function_arn
            if attribute_name == "FunctionUrl":
                return self.url
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "LambdaUrl":
            properties = cloudformation_json["Properties"]
            config = {k: properties[k] for k in ("AuthType", "Cors", "InvokeMode") if k in properties}
            backend = lambda_backends[account_id][region_name]
            created = backend.create_function_url_config(properties["TargetFunctionArn"], config).to_dict()
            return cls(created["FunctionArn"], created["FunctionUrl"])

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: "LambdaUrl",
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> "LambdaUrl":
            properties = cloudformation_json["Properties"]
            config = {k: properties[k] for k in ("AuthType", "Cors") if k in properties}
            lambda_backends[account_id][region_name].update_function_url_config(properties["TargetFunctionArn"], config)
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> None:
            from moto.awslambda.exceptions import UnknownFunctionException

            target = cloudformation_json["Properties"]["TargetFunctionArn"]
            try:
                lambda_backends[account_id][region_name].delete_function_url_config(target)
            except UnknownFunctionException:
                pass

        def delete(self, account_id: str, region_name: str) -> None:
            # DeleteStack calls this with the resource as created (the template's TargetFunctionArn is unresolved).
            # moto deletes a stack's resources in no dependency order: when the function went first, its URL went
            # with it (as on AWS), and moto's UnknownFunctionException (HTTP 404) would abort DeleteStack.
            from moto.awslambda.exceptions import UnknownFunctionException

            try:
                lambda_backends[account_id][region_name].delete_function_url_config(self.function_arn)
            except UnknownFunctionException:
                pass

        def is_created(self) -> bool:
            return True

    # 6. Instances an Auto Scaling group launches from a launch template get the template's IamInstanceProfile.
    from moto.ec2.models.instances import InstanceBackend

    original_run_instances = InstanceBackend.run_instances

    def run_instances(self: Any, image_id: str, count: int, user_data: Any, groups: Any, **kwargs: Any) -> Any:
        reservation = original_run_instances(self, image_id, count, user_data, groups, **kwargs)
        if kwargs.get("launch_template"):
            profile = self._get_template_from_args(kwargs["launch_template"]).data.get("IamInstanceProfile") or {}
            for instance in reservation.instances:
                if getattr(instance, "iam_instance_profile", None):
                    continue  # RunInstances named its own profile
                if profile.get("Arn"):
                    self.associate_iam_instance_profile(instance.id, iam_instance_profile_arn=profile["Arn"])
                elif profile.get("Name"):
                    self.associate_iam_instance_profile(instance.id, iam_instance_profile_name=profile["Name"])
        return reservation

    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]

    # 7. AWS::EC2::NetworkInterface: the security groups are `GroupSet` (moto reads `SecurityGroups`, so the ENI got
    #    the VPC's default group), and its Tags were dropped.
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    original_eni_create = NetworkInterface.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def eni_create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        if "GroupSet" in properties and "SecurityGroups" not in properties:
            cloudformation_json = {**cloudformation_json, "Properties": {**properties, "SecurityGroups": properties["GroupSet"]}}
        eni = original_eni_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        tags = {t["Key"]: t["Value"] for t in properties.get("Tags", []) if "Key" in t}
        if tags:
            ec2_backends[account_id][region_name].create_tags([eni.id], tags)
        return eni

    NetworkInterface.create_from_cloudformation_json = classmethod(eni_create)  # type: ignore[method-assign,assignment]

    # 8. UpdateAutoScalingGroup ignores TerminationPolicies ("not yet implemented"): the worker group kept `Default`
    #    after the control plane's deployment set its custom termination policy Lambda.
    from moto.autoscaling.responses import AutoScalingResponse

    original_update_group = AutoScalingResponse.update_auto_scaling_group

    def update_auto_scaling_group(self: Any) -> Any:
        result = original_update_group(self)
        policies = self._get_param("TerminationPolicies", [])
        if policies:
            name = self._get_param("AutoScalingGroupName")
            self.autoscaling_backend.autoscaling_groups[name].termination_policies = policies
        return result

    AutoScalingResponse.update_auto_scaling_group = update_auto_scaling_group  # type: ignore[method-assign]

    # 9. A network interface's private addresses are reserved in its subnet while it exists (moto reserves only
    #    instances' addresses, so a later instance could get the coordinator ENI's address as its primary one).
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend

    original_eni_init = NetworkInterface.__init__

    def eni_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_eni_init(self, *args, **kwargs)
        subnet = getattr(self, "subnet", None)
        if subnet is None:
            return
        for address in self.private_ip_addresses:
            ip = address.get("PrivateIpAddress")
            if ip and ip not in subnet._subnet_ips:
                subnet._subnet_ips[ip] = self
                subnet._unused_ips.discard(ip)

    NetworkInterface.__init__ = eni_init  # type: ignore[method-assign]

    original_delete_eni = NetworkInterfaceBackend.delete_network_interface

    def delete_network_interface(self: Any, eni_id: str) -> None:
        eni = self.enis.get(eni_id)
        original_delete_eni(self, eni_id)
        subnet = getattr(eni, "subnet", None)
        if eni is None or subnet is None:
            return
        for address in eni.private_ip_addresses:
            ip = address.get("PrivateIpAddress")
            if ip and subnet._subnet_ips.get(ip) is eni:
                subnet.del_subnet_ip(ip)

    NetworkInterfaceBackend.delete_network_interface = delete_network_interface  # type: ignore[method-assign]


if os.path.basename(sys.argv[0] if sys.argv else "") == "moto_server":
    try:
        _apply()
    except Exception as error:  # a moto without the patches would fail the deploy far from the cause: stop here
        sys.stderr.write(f"moto-patches: cannot patch moto: {error!r}\n")
        os._exit(70)
    sys.stderr.write(
        "moto-patches: ValidateTemplate lints errors only; AWS::Lambda::Url model; lifecycle hooks of Auto Scaling"
        " groups; exports after UpdateStack; security group egress rules; launch templates' instance profile; ENI GroupSet and Tags; UpdateAutoScalingGroup TerminationPolicies; ENI addresses reserved in their subnet\n"
    )
