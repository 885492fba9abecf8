/**
 * SBOM documents from the analysis' package list: CycloneDX 1.6 and SPDX 2.3, both JSON,
 * both checked against their published schemas by the tests (and by {@link validateCycloneDx} /
 * {@link validateSpdx} for callers that want to refuse an invalid document before attaching it).
 */
export { imagePurl, toCycloneDx } from './cyclonedx.ts';
export { toSpdx } from './spdx.ts';
export { validateCycloneDx, validateSpdx, type SchemaResult } from './validate.ts';
export type { ImageFacts, SbomInput } from './model.ts';
