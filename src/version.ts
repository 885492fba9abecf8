/**
 * The product version: `sluice --version`, the OpenAPI document, the CEF header of audit
 * exports and the registry client's User-Agent. A constant rather than a read of package.json
 * at run time, so an installed or bundled copy reports its version without the package file
 * beside it; a unit test keeps it equal to package.json's.
 */
export const VERSION = '0.1.0';
