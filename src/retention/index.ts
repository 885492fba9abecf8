/** Retention: which tags and manifests go, and why the rest stays. Pure decisions over an inventory snapshot. */
export * from './model.ts';
export * from './reasons.ts';
export * from './plan.ts';
