/**
 * SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/). The image is the described package
 * (purpose CONTAINER) and CONTAINS every installed package and the operating system.
 * Files are not analysed (`filesAnalyzed: false`), so no verification code is needed.
 */
import type { InstalledPackage } from '../model.ts';
import { imagePurl } from './cyclonedx.ts';
import { licenseChoice } from './licenses.ts';
import type { SbomInput } from './model.ts';

type Json = Record<string, unknown>;

/** SPDX wants seconds precision: `2026-12-03T11:00:00Z`. */
function spdxDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function declaredLicense(pkg: InstalledPackage): string {
  // Only a list of plain SPDX ids is a valid expression; free text would make the document invalid.
  const ids = (pkg.licenses ?? []).map(licenseChoice);
  if (ids.length === 0 || !ids.every((choice) => 'id' in choice)) return 'NOASSERTION';
  return ids.map((choice) => (choice as { id: string }).id).join(' AND ');
}

function sanitizeId(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 200);
}

export function toSpdx(input: SbomInput): Json {
  const { image } = input;
  const imageId = 'SPDXRef-Image';
  const packages: Json[] = [
    {
      SPDXID: imageId,
      name: image.repository,
      versionInfo: image.digest,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'CONTAINER',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: imagePurl(image.repository, image.digest, image.tag),
        },
      ],
    },
  ];
  const relationships: Json[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
  ];
  if (image.os) {
    packages.push({
      SPDXID: 'SPDXRef-OperatingSystem',
      name: image.os.id,
      versionInfo: image.os.versionId ?? 'NOASSERTION',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'OPERATING_SYSTEM',
    });
    relationships.push({
      spdxElementId: imageId,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: 'SPDXRef-OperatingSystem',
    });
  }
  input.packages.forEach((pkg, n) => {
    const id = `SPDXRef-Package-${n + 1}-${sanitizeId(`${pkg.ecosystem}-${pkg.name}`)}`;
    const spdxPackage: Json = {
      SPDXID: id,
      name: pkg.name,
      versionInfo: pkg.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declaredLicense(pkg),
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: pkg.purl }],
      comment: `Read from ${pkg.path} in layer ${pkg.layer.index} (${pkg.layer.digest}).`,
    };
    if (pkg.source) spdxPackage.sourceInfo = `built from source package ${pkg.source.name} ${pkg.source.version}`;
    packages.push(spdxPackage);
    relationships.push({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  });
  const name = image.tag ? `${image.repository}:${image.tag}` : `${image.repository}@${image.digest}`;
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name,
    documentNamespace: `https://sluice.invalid/spdx/${encodeURIComponent(image.repository)}/${input.documentId}`,
    creationInfo: { created: spdxDate(input.created), creators: [`Tool: sluice-${input.toolVersion}`] },
    packages,
    relationships,
  };
}
