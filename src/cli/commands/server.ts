/** `sluice serve`, `sluice token create|ls|revoke`, `sluice audit ls|head|verify|export`. */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import {
  AUDIT_RESULTS,
  auditHead,
  exportAudit,
  listAudit,
  parseAuditAnchor,
  verifyAudit,
  type AuditExportFormat,
  type AuditFilter,
  type AuditRecord,
} from '../../audit/index.ts';
import { createToken, DEFAULT_TOKEN_LIFETIME, listTokens, revokeToken, type TokenInfo } from '../../auth/index.ts';
import { SluiceError } from '../../errors.ts';
import { cliUserName } from '../../auth/actor.ts';
import { DEFAULT_POLICY_FILE, ROLES, parseDuration, renderInitFile } from '../../policy/index.ts';
import { positiveInt } from '../args.ts';
import type { CliContext } from '../context.ts';
import { emit, shortDigest } from '../output.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Who runs the command, for the audit log: --actor, else the CLI's acting user. */
function actorFrom(opts: { actor?: string }, env: NodeJS.ProcessEnv): string {
  return opts.actor || cliUserName(env);
}

/** An ISO-8601 time, or a duration meaning that long ago (`24h`, `7d`). */
function parseTime(name: string, text: string, now: number): Date {
  if (/^\d+(ms|[smhdwy])/.test(text)) return new Date(now - parseDuration(text));
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new SluiceError('USAGE', 'usage', `--${name} "${text}" is neither an ISO-8601 time nor a duration like 24h`);
  return new Date(t);
}

interface AuditFilterOptions {
  since?: string;
  until?: string;
  actor?: string;
  action?: string;
  repository?: string;
  digest?: string;
  tag?: string;
  result?: string;
}

function addAuditFilters(cmd: Command): Command {
  return cmd
    .option('--since <time>', 'from this time (ISO-8601) or this long ago (24h, 7d)')
    .option('--until <time>', 'before this time (ISO-8601) or this long ago')
    .option('--actor <actor>', 'who')
    .option('--action <action>', 'what, e.g. tag.delete, token.create')
    .option('--repository <registry/namespace/name>', 'target repository, exact')
    .option('--digest <digest>')
    .option('--tag <tag>')
    .addOption(new Option('--result <result>').choices(AUDIT_RESULTS as unknown as string[]));
}

function auditFilter(o: AuditFilterOptions, now: number): AuditFilter {
  const f: AuditFilter = {};
  if (o.since) f.since = parseTime('since', o.since, now);
  if (o.until) f.until = parseTime('until', o.until, now);
  for (const k of ['actor', 'action', 'repository', 'digest', 'tag'] as const) if (o[k]) f[k] = o[k];
  if (o.result) f.result = o.result as AuditFilter['result'];
  return f;
}

export function registerServerCommands(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description(
      'run the HTTP API, registry webhooks, /metrics and the scheduler (SQLite by default, PostgreSQL with SLUICE_DATABASE_URL)',
    )
    .option('--listen <host:port>', "listen address (default: the policy's server.listen, 127.0.0.1:8080)")
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('info'),
    )
    .option('--no-scheduler', 'do not run scheduled jobs (sync, purge) in this replica')
    .option('--grace <duration>', 'how long shutdown waits for in-flight requests and the running job', '10s')
    .action(async (opts: { listen?: string; logLevel: string; scheduler: boolean; grace: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const graceMs = parseDuration(opts.grace);
      // The server (Fastify and every route) loads only for `serve`: other commands start faster.
      const { parseListen, startServer } = await import('../../server/index.ts');
      const { installCrashGuard } = await import('../../server/crash-guard.ts');
      if (opts.listen) parseListen(opts.listen);
      let wroteDefault: string | undefined;
      // The embedded defaults: no policy here and none named, so start from the default one.
      if (g.config === undefined && !existsSync(DEFAULT_POLICY_FILE)) {
        wroteDefault = resolve(DEFAULT_POLICY_FILE);
        await writeFile(wroteDefault, renderInitFile(), { mode: 0o644, flag: 'wx' });
      }
      const rt = await ctx.runtime(g);
      const server = await startServer(rt, {
        ...(opts.listen ? { listen: opts.listen } : {}),
        logLevel: opts.logLevel,
        scheduler: opts.scheduler,
        graceMs,
        env: ctx.env,
      });
      if (wroteDefault) {
        server.log.info(
          { file: wroteDefault },
          `no ${DEFAULT_POLICY_FILE} found: wrote the default policy to ${wroteDefault}; edit spec.registries to point it at your registry`,
        );
      }
      server.log.info(
        { url: server.url, database: rt.store.target, policy: rt.policyPath, scheduler: opts.scheduler },
        `listening on ${server.url}`,
      );
      ctx.w.out(`sluice serve: listening on ${server.url}\n`);
      let fatal: unknown;
      const signal = await new Promise<NodeJS.Signals | 'fatal'>((done) => {
        const on = (s: NodeJS.Signals) => {
          process.off('SIGTERM', on);
          process.off('SIGINT', on);
          done(s);
        };
        process.on('SIGTERM', on);
        process.on('SIGINT', on);
        // Defence in depth (docs/operations.md): an error that escaped every handler.
        installCrashGuard(server.log, (err) => {
          fatal ??= err;
          done('fatal');
        });
      });
      if (signal !== 'fatal') server.log.info({ signal, graceMs }, `${signal}: shutting down gracefully`);
      // Should the shutdown itself hang on what the bug broke, the process still ends.
      if (signal === 'fatal') setTimeout(() => process.exit(1), graceMs + 5000).unref();
      await server.close();
      if (signal === 'fatal') {
        throw new SluiceError(
          'INTERNAL',
          'internal',
          `stopped after an unhandled error: ${fatal instanceof Error ? fatal.message : String(fatal)}`,
        );
      }
    });

  const token = program.command('token').description('API tokens for `sluice serve`');
  token
    .command('create')
    .description('create a bearer token; it is printed once and only its hash is stored')
    .addOption(
      new Option('--role <role>', 'role of the token').choices(ROLES as unknown as string[]).makeOptionMandatory(),
    )
    .option('--team <team>', 'team the token acts for (repeatable; required for team-scoped roles)', collect)
    .option('--name <name>', 'name shown in the audit log (default: <role>-<id>)')
    .option('--expires <duration>', `lifetime, e.g. 90d, 12h, or "never"`, DEFAULT_TOKEN_LIFETIME)
    .option('--actor <name>', 'who creates it, for the audit log (default: the OS user)')
    .action(
      async (opts: { role: string; team?: string[]; name?: string; expires: string; actor?: string }, cmd: Command) => {
        const g = ctx.globals(cmd);
        const lifetimeMs = opts.expires === 'never' ? undefined : parseDuration(opts.expires);
        const rt = await ctx.runtime(g);
        const created = await createToken(
          rt.store,
          {
            role: opts.role,
            teams: opts.team ?? [],
            ...(opts.name ? { name: opts.name } : {}),
            ...(lifetimeMs !== undefined ? { lifetimeMs } : {}),
          },
          { actor: actorFrom(opts, ctx.env), audit: rt.audit, knownTeams: rt.policy.teams.map((t) => t.name) },
        );
        const i = created.info;
        emit(ctx.w, g.output, { ...i, token: created.token }, { text: () => `${created.token}\n` });
        if (g.output === 'table' || g.output === 'wide') {
          ctx.w.err(
            `created token ${i.id} (${i.name}, role ${i.role}${i.teams.length ? `, teams ${i.teams.join(',')}` : ''}, ${i.expiresAt ? `expires ${i.expiresAt}` : 'never expires'}); it is shown only now\n`,
          );
        }
      },
    );
  token
    .command('ls')
    .description('list tokens (never the tokens themselves)')
    .option('--all', 'include expired and revoked tokens')
    .action(async (opts: { all?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const rows = await listTokens(rt.store, { all: !!opts.all });
      emit<TokenInfo>(ctx.w, g.output, rows, {
        rows,
        columns: [
          { header: 'ID', value: (t) => t.id },
          { header: 'NAME', value: (t) => t.name },
          { header: 'ROLE', value: (t) => t.role },
          { header: 'TEAMS', value: (t) => t.teams.join(',') || '*' },
          { header: 'STATUS', value: (t) => t.status },
          { header: 'EXPIRES', value: (t) => t.expiresAt ?? 'never' },
          { header: 'LAST USED', value: (t) => t.lastUsedAt ?? '-' },
          { header: 'CREATED', value: (t) => t.createdAt, wide: true },
        ],
        name: (t) => t.id,
      });
    });
  token
    .command('revoke')
    .description('revoke a token by id (takes effect on the next request)')
    .argument('<id>', 'token id (sluice token ls)')
    .option('--actor <name>', 'who revokes it, for the audit log (default: the OS user)')
    .action(async (id: string, opts: { actor?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const info = await revokeToken(rt.store, id, { actor: actorFrom(opts, ctx.env), audit: rt.audit });
      emit(ctx.w, g.output, info, { text: () => `revoked token ${info.id} (${info.name})\n` });
    });

  const audit = program.command('audit').description('the tamper-evident audit log');
  addAuditFilters(
    audit
      .command('ls')
      .description('list audit records, newest first')
      .option('--limit <n>', 'at most this many records', '100')
      .addOption(new Option('--order <order>').choices(['asc', 'desc']).default('desc')),
  ).action(async (opts: AuditFilterOptions & { limit: string; order: 'asc' | 'desc' }, cmd: Command) => {
    const g = ctx.globals(cmd);
    const rt = await ctx.runtime(g);
    const rows = await listAudit(rt.store, {
      ...auditFilter(opts, rt.now()),
      limit: positiveInt('--limit')(opts.limit),
      order: opts.order,
    });
    emit<AuditRecord>(ctx.w, g.output, rows, {
      rows,
      columns: [
        { header: 'SEQ', value: (r) => r.seq },
        { header: 'TIME', value: (r) => r.time },
        { header: 'ACTOR', value: (r) => r.actor },
        { header: 'ACTION', value: (r) => r.action },
        { header: 'RESULT', value: (r) => r.result },
        {
          header: 'TARGET',
          value: (r) =>
            r.repository
              ? `${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${g.output === 'wide' ? r.digest : shortDigest(r.digest)}` : ''}`
              : '-',
        },
        { header: 'REASON', value: (r) => r.reason ?? '-' },
        { header: 'HASH', value: (r) => r.hash, wide: true },
      ],
      name: (r) => String(r.seq),
    });
  });

  audit
    .command('head')
    .description('print the chain head as SEQ:HASH, to anchor outside Sluice and pass to verify --expect-head')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const head = await auditHead(rt.store);
      emit(ctx.w, g.output, head, { text: () => `${head.anchor}\n` });
    });

  audit
    .command('verify')
    .description('walk the hash chain; exit 1 naming the first edited, removed, reordered or inserted record')
    .option(
      '--expect-head <seq:hash>',
      'a head anchored elsewhere (`sluice audit head`): also fail unless record SEQ is still there with this hash',
    )
    .action(async (opts: { expectHead?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const expectHead = opts.expectHead === undefined ? undefined : parseAuditAnchor(opts.expectHead, '--expect-head');
      const rt = await ctx.runtime(g);
      const v = await verifyAudit(rt.store, expectHead ? { expectHead } : {});
      emit(ctx.w, g.output, v, {
        text: () =>
          v.ok
            ? `audit log intact: ${v.count} records; head seq ${v.head.seq} hash ${v.head.hash}${expectHead ? `; record ${expectHead.seq} is the expected head` : ''}\n`
            : `audit log broken at record ${v.firstBad.seq} (${v.firstBad.reason}): ${v.firstBad.message}\n  expected: ${v.firstBad.expected}\n  found:    ${v.firstBad.found}\n  ${v.count} records before it verified\n`,
      });
      if (!v.ok) {
        throw new SluiceError(
          'AUDIT_CHAIN_BROKEN',
          'integrity',
          `audit log broken at record ${v.firstBad.seq} (${v.firstBad.reason}): ${v.firstBad.message}`,
          {
            reported: true,
            seq: v.firstBad.seq,
            reason: v.firstBad.reason,
          },
        );
      }
    });

  addAuditFilters(
    audit
      .command('export')
      .description('write matching records oldest first, one per line, for a SIEM (JSON Lines or CEF)')
      .addOption(
        new Option('--format <format>', 'jsonl (complete, re-verifiable) or cef (ArcSight)')
          .choices(['jsonl', 'cef'])
          .makeOptionMandatory(),
      )
      .option('--limit <n>', 'stop after this many records')
      .option('--as <name>', 'who exports, for the audit log (default: the OS user)'),
  ).action(
    async (opts: AuditFilterOptions & { format: AuditExportFormat; limit?: string; as?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const rt = await ctx.runtime(g);
      const filter = auditFilter(opts, rt.now());
      const out = new Writable({
        write(chunk: Buffer | string, _enc, done) {
          ctx.w.out(chunk.toString());
          done();
        },
      });
      const count = await exportAudit(rt.store, opts.format, out, {
        ...filter,
        ...(opts.limit ? { limit: positiveInt('--limit')(opts.limit) } : {}),
      });
      await rt.audit(rt.store, {
        actor: actorFrom({ ...(opts.as ? { actor: opts.as } : {}) }, ctx.env),
        action: 'audit.export',
        reason: 'audit export from the command line',
        result: 'success',
        details: { format: opts.format, count, filter: { ...filter } },
      });
    },
  );
}
