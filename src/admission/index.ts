/**
 * Deploy-time enforcement: AdmissionReview in and out, images of workloads, the pure
 * admission decision, the webhook configurations and exported cluster policies. The I/O that
 * gathers the decision's facts and the HTTPS endpoints live with the server.
 */
export * from './review.ts';
export * from './workloads.ts';
export * from './decide.ts';
export * from './facts.ts';
export * from './manifests.ts';
export { yamlDocuments } from './render.ts';
export * from './export/stages.ts';
export { kyvernoClusterPolicy, type KyvernoOptions } from './export/kyverno.ts';
export { policyControllerPolicies, type PolicyControllerOptions } from './export/policy-controller.ts';
export { openshiftImagePolicies, type OpenShiftOptions } from './export/openshift.ts';
export {
  containersPolicy,
  POLICY_JSON_PATH,
  REGISTRIES_D_PATH,
  type ContainersPolicyFiles,
  type ContainersPolicyOptions,
} from './export/containers-policy.ts';
