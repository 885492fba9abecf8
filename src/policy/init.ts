/**
 * The commented `sluice.yaml` that `sluice init` writes. It spells out every default of
 * `defaultPolicy()` so that users see what they can change; a test parses it back and
 * compares, so the two cannot drift apart.
 */
import { CATEGORY_DESCRIPTIONS, EXAMPLE_MEMBERS } from './defaults.ts';

export function renderInitFile(): string {
  const members = EXAMPLE_MEMBERS.map((m) => `        - { user: ${m.user}, roles: [${m.role}] }`).join('\n');
  const categories = Object.entries(CATEGORY_DESCRIPTIONS)
    .map(([name, d]) => `    - name: ${name}\n      description: ${d}`)
    .join('\n');
  return `# Sluice lifecycle policy, written by \`sluice init\`. Check it with \`sluice config validate\`.
# Every field is described in docs/policy.md.
#
# Durations are strings: 90s, 15m, 24h, 7d, 2y (a year is 365 days), or compounds like 1h30m.
# Schedules are 5-field cron expressions (minute hour day-of-month month day-of-week).
# Secrets never go into this file: write a reference, env:NAME or file:PATH (relative
# paths are relative to this file). Unknown keys are errors, so a typo cannot silently
# switch a rule off.
apiVersion: sluice.dev/v1alpha1
kind: LifecyclePolicy
metadata:
  name: default
spec:
  # Time zone of cron schedules that do not name their own.
  timeZone: UTC

  # The registries Sluice drives. With several, exactly one has \`default: true\`: team
  # repositories live there unless a stage names another registry.
  registries:
    - name: local
      url: http://127.0.0.1:5000 # plain http is only allowed to loopback without insecure: true
      kind: distribution # distribution | quay | harbor | generic
      default: true
      concurrency: 8 # parallel requests at most
      referrers: tags # how signatures are found: auto | api | tags (Distribution has no referrers API)
      # credentials: env:SLUICE_LOCAL_CREDENTIALS
      #   The variable or file holds "user:password", JSON {"username": ..., "password": ...},
      #   or a bare bearer token.
    #
    # Red Hat Quay, with a robot account's credentials in a file:
    # - name: quay
    #   url: https://quay.example.com
    #   kind: quay
    #   credentials: file:/etc/sluice/quay-robot.json
    #   default: true   # and remove default: true from \`local\`
    #
    # Harbor behind a private CA:
    # - name: harbor
    #   url: https://harbor.example.com
    #   kind: harbor
    #   credentials: env:HARBOR_CREDENTIALS
    #   caFile: /etc/sluice/harbor-ca.pem

  # Teams own images. A team name becomes part of repository paths ({team}-{stage}/{repo}),
  # so it is lowercase letters and digits separated by ".", "_" or "-".
  # Roles: developer, qa, release-manager, operations, security, platform-admin, auditor.
  teams:
    - name: acme
      contact: acme-platform@example.com
      category: application # category of the team's images unless an image says otherwise
      members:
${members}

  # Image categories, each optionally with an owner team (owner: acme).
  categories:
${categories}

  # Evidence types beyond the built-in ones (build, unit-tests, code-quality, scan,
  # integration-tests, performance-tests, qa-approval, change-approval, smoke-tests,
  # rollback-plan, maintenance-window, monitoring-alerts, rollback-verified, signature):
  #   - { name: license-check, description: Licences reviewed, maxAge: 30d }
  evidenceTypes: []

  # Stages in promotion order. A promotion copies the same digest into the next stage's
  # repository, tags it with its version tag and moves the stage tag (the stage name).
  stages:
    - name: dev
      repository: "{team}-{stage}/{repo}" # placeholders: {team}, {stage}, {repo}
      trigger: automatic # automatic | manual | scheduled
      responsibleRole: developer
      immutableTags: false
      gate:
        require: [build, unit-tests, code-quality]
      scan:
        schedule: onPush # onPush | daily | weekly | a cron expression
      retention:
        mode: automatic # automatic | notice | manual | scheduled
        maxAge: 30d
        keepLast: 10 # the newest 10 versions are always kept
        pullProtectionWindow: 7d # never delete what was pulled within a week

    - name: staging
      repository: "{team}-{stage}/{repo}"
      trigger: automatic
      responsibleRole: qa
      immutableTags: false
      gate:
        require: [scan, integration-tests, performance-tests]
        scan:
          maxFindings: { critical: 0, high: 0 } # findings allowed per severity
        evidenceMaxAge:
          scan: 7d # a scan older than the weekly rescan does not count
      scan:
        schedule: weekly
      retention:
        mode: notice # announce deletions, delete after noticeDays
        noticeDays: 7
        maxAge: 90d
        keepLast: 10

    - name: preprod
      repository: "{team}-{stage}/{repo}"
      trigger: manual
      responsibleRole: release-manager
      immutableTags: true
      gate:
        require: [qa-approval, change-approval, smoke-tests, rollback-plan]
        approvals:
          # fourEyes: whoever requested the promotion cannot approve it.
          - { type: qa-approval, role: qa, quorum: 1, fourEyes: true }
      scan:
        schedule: weekly
      retention:
        mode: manual # deletions are planned, reviewed and applied by hand
        maxAge: 180d
        keepLast: 10

    - name: prod
      repository: "{team}-{stage}/{repo}"
      # registry: another-registry   # prod may live in another registry
      # dr: { registry: dr, rpo: 24h } # replicate to a disaster-recovery registry
      trigger: scheduled # promotions wait for a maintenance window
      responsibleRole: operations
      immutableTags: true
      maintenanceWindows:
        - { cron: "0 22 * * 6", duration: 4h, timeZone: Europe/Berlin } # Saturdays 22:00-02:00
      gate:
        require: [maintenance-window, monitoring-alerts, rollback-verified, signature]
        signature:
          # Public keys that may sign prod images (file:, env:, dir: or hashivault://).
          # Create one with: cosign generate-key-pair
          keys: [file:cosign.pub]
      # sign: { key: file:cosign.key } # sign on promotion into this stage
      scan:
        schedule: daily
      retention:
        mode: scheduled # deletions run on a schedule, after end of life
        schedule: "0 3 * * 0"
        maxAge: 2y
        keepLast: 10
        trash: { enabled: true, window: 14d } # always on for the final stage
        # overrides:
        #   - { team: acme, keepLast: 20 }
        #   - { repository: "tools/*", maxAge: 1y }

  vulnerabilities:
    # Time to fix a finding, from when it was first seen. nextCycle (low and negligible
    # only): with the next scheduled rebuild.
    sla: { critical: 24h, high: 7d, medium: 30d, low: nextCycle, negligible: nextCycle, unknown: 30d }
    # Critical findings quarantine the image: stage tags removed from prod, tagged, blocked.
    quarantine: { enabled: true, onSeverity: critical, tag: quarantine, removeFrom: [prod] }
    scanner:
      kind: builtin # builtin | trivy (command: trivy) | clair (url: https://...)
    waivers:
      maxDuration: 90d # no waiver may last longer

  naming:
    # The {repo} part of repository names.
    repository: '^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$'
    # Immutable version tags: <version>-<build>, e.g. 1.0.0-1.
    versionTag: '^\\d+\\.\\d+\\.\\d+-\\d+$'
  requiredLabels: [version, build-date, git-commit, maintainer, security-scan]

  # Slack or webhook notifications; the URL carries a token, so it is a secret reference:
  #   - { name: platform, kind: slack, url: env:SLACK_WEBHOOK_URL, events: [gate.failed, sla.breached] }
  notifications: []

  # changeManagement: { kind: servicenow, url: https://example.service-now.com, credentials: env:SNOW_CREDENTIALS }

  # A curated catalog of upstream images (see retention catalogCap).
  catalog:
    enabled: false
    repository: "catalog/{repo}"

  server:
    listen: 127.0.0.1:8080
    syncInterval: 15m # full inventory sync; registry webhooks make changes visible sooner
    # webhooks:
    #   distribution: { secret: env:SLUICE_WEBHOOK_SECRET }

  # audit:
  #   syslog: { address: siem.example.com:6514, appName: sluice, protocol: tcp } # RFC 5424 over TCP
  # The database is not configured here: Sluice reads SLUICE_DATABASE_URL from the environment.
`;
}
