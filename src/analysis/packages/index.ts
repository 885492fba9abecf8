/**
 * The package readers, one folder per ecosystem with the same shape: `index.ts` exports the
 * reader (and documents what it reads, its purl and the real tool to check it against), the
 * parser sits beside it. The walker iterates {@link packageReaders}; os-release is separate
 * because it yields the `ReadContext.os` the OS package readers need.
 */
import type { PackageReader } from '../model.ts';
import { apkReader } from './apk/index.ts';
import { dpkgReader } from './dpkg/index.ts';
import { golangReader } from './golang/index.ts';
import { mavenReader } from './maven/index.ts';
import { npmReader } from './npm/index.ts';
import { pythonReader } from './python/index.ts';
import { rpmReader } from './rpm/index.ts';

export { osReleaseReader } from './os-release/index.ts';

export const packageReaders: readonly PackageReader[] = [
  dpkgReader,
  apkReader,
  rpmReader,
  pythonReader,
  npmReader,
  golangReader,
  mavenReader,
];
