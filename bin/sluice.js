#!/usr/bin/env node
// Entry point kept in plain JS so `npx sluice` works; the CLI itself is TypeScript that
// Node 24 runs directly (type stripping), so there is no build step.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `sluice needs Node 24 or later (this is ${process.version}); run it through \`npx sluice\` or npm scripts, ` +
      'which use the Node 24 that `npm ci` installs into node_modules.\n',
  );
  process.exit(2);
}
// Caches compiled (and type-stripped) modules on disk: start-up matters for a CLI that CI
// pipelines call many times.
const { default: module } = await import('node:module');
module.enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
