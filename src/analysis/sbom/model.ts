import type { InstalledPackage, OsRelease } from '../model.ts';

/** What an SBOM says about the image itself, beside its packages. */
export interface ImageFacts {
  /** Repository without tag or digest, e.g. `registry.example.com/team/app`. */
  repository: string;
  /** Manifest digest (`sha256:...`). */
  digest: string;
  /** Tag the user asked about, when there was one. */
  tag?: string;
  os?: OsRelease;
}

export interface SbomInput {
  image: ImageFacts;
  packages: readonly InstalledPackage[];
  /** Sluice's version, named as the tool that wrote the document. */
  toolVersion: string;
  /** When the document was made; passed in so the same input gives the same document. */
  created: Date;
  /** A UUID identifying this document (CycloneDX `serialNumber`, SPDX namespace). */
  documentId: string;
}

/** A CycloneDX licence: an SPDX licence id when the text is one, the text itself otherwise. */
export type LicenseChoice = { id: string } | { name: string };
