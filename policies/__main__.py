"""CrossGuard entry point: `pulumi preview --policy-pack policies` runs this file."""

from pulumi_policy import EnforcementLevel, PolicyPack

from slm_deploy.policies.crossguard import PACK_NAME, build_policies

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
