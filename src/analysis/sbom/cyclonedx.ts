/**
 * CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/). One component per installed
 * package; the Debian/Alpine/rpm source package is a property of its binary packages, not a
 * component of its own. Properties use the `sluice:` namespace for what CycloneDX has no field for.
 */
import { PackageURL } from 'packageurl-js';
import type { InstalledPackage } from '../model.ts';
import { licenseChoice } from './licenses.ts';
import type { SbomInput } from './model.ts';

type Json = Record<string, unknown>;

/** `pkg:oci/<name>@<digest>?repository_url=<repository>`, as the purl spec defines oci. */
export function imagePurl(repository: string, digest: string, tag?: string): string {
  const name = repository.slice(repository.lastIndexOf('/') + 1);
  const qualifiers: Record<string, string> = { repository_url: repository };
  if (tag) qualifiers.tag = tag;
  return new PackageURL('oci', undefined, name, digest, qualifiers, undefined).toString();
}

function properties(pkg: InstalledPackage): Json[] {
  const out: Json[] = [
    { name: 'sluice:package:ecosystem', value: pkg.ecosystem },
    { name: 'sluice:package:path', value: pkg.path },
    { name: 'sluice:layer:digest', value: pkg.layer.digest },
    { name: 'sluice:layer:index', value: String(pkg.layer.index) },
  ];
  if (pkg.arch) out.push({ name: 'sluice:package:arch', value: pkg.arch });
  if (pkg.source) {
    out.push({ name: 'sluice:source:name', value: pkg.source.name });
    out.push({ name: 'sluice:source:version', value: pkg.source.version });
  }
  return out;
}

export function toCycloneDx(input: SbomInput): Json {
  const { image } = input;
  const imageRef = imagePurl(image.repository, image.digest, image.tag);
  const components: Json[] = [];
  const refs = new Set<string>();
  for (const pkg of input.packages) {
    // The same purl can be installed twice (two copies of one npm package): bom-refs must be unique.
    let ref = pkg.purl;
    for (let n = 2; refs.has(ref); n++) ref = `${pkg.purl}#${n}`;
    refs.add(ref);
    const component: Json = {
      type: 'library',
      'bom-ref': ref,
      name: pkg.name,
      version: pkg.version,
      purl: pkg.purl,
      properties: properties(pkg),
    };
    if (pkg.licenses && pkg.licenses.length > 0) {
      component.licenses = pkg.licenses.map((license) => ({ license: licenseChoice(license) }));
    }
    components.push(component);
  }
  if (image.os) {
    const ref = `os:${image.os.id}@${image.os.versionId ?? ''}`;
    const os: Json = { type: 'operating-system', 'bom-ref': ref, name: image.os.id };
    if (image.os.versionId) os.version = image.os.versionId;
    if (image.os.prettyName) os.description = image.os.prettyName;
    components.unshift(os);
    refs.add(ref);
  }
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${input.documentId}`,
    version: 1,
    metadata: {
      timestamp: input.created.toISOString(),
      tools: { components: [{ type: 'application', name: 'sluice', version: input.toolVersion }] },
      component: {
        type: 'container',
        'bom-ref': imageRef,
        name: image.repository,
        version: image.digest,
        purl: imageRef,
      },
    },
    components,
    dependencies: [{ ref: imageRef, dependsOn: [...refs] }],
  };
}
