/**
 * Every code a `SluiceError` may carry, with its category and what it means. The category
 * decides the CLI exit code and the HTTP status (`src/errors.ts`), so a code has one
 * category; the few whose category is the peer's answer list the categories they take.
 * `SluiceError`'s constructor accepts only these codes, each with its own category, and
 * docs/api.md lists them all (test/unit/errors.test.ts keeps the two in step).
 *
 * `usage` belongs to the CLI: modules outside src/cli/ report bad input as `invalid-input`,
 * which exits and answers the same.
 */
import type { ErrorCategory } from './errors.ts';

interface CodeSpec {
  /** One category, or the ones a code takes when the category follows a peer's answer. */
  readonly category: ErrorCategory | readonly ErrorCategory[];
  /** An HTTP status more specific than the category's. */
  readonly status?: number;
  /** What happened, in the words of the message. */
  readonly summary: string;
}

/** Categories of an answer from a receiver Sluice does not control (a webhook, Slack). */
export type ReceiverAnswerCategory = (typeof RECEIVER_ANSWER)[number];

const RECEIVER_ANSWER = [
  'invalid-input',
  'unauthorized',
  'forbidden',
  'not-found',
  'unavailable',
  'internal',
] as const satisfies readonly ErrorCategory[];

export const ERROR_CODES = {
  ABORTED: { category: 'unavailable', summary: 'the operation was cancelled (shutdown or caller gone)' },
  ADMISSION_MANIFEST_INVALID: { category: 'invalid-input', summary: 'an admission manifest option is invalid' },
  ADMISSION_MUTATE_DISABLED: { category: 'not-found', summary: 'the mutating admission webhook is off in the policy' },
  ADMISSION_REVIEW_INVALID: { category: 'invalid-input', summary: 'the AdmissionReview request is malformed' },
  APPROVAL_NOT_REQUIRED: { category: 'invalid-input', summary: 'the stage requires no approval' },
  APPROVAL_TYPE_UNKNOWN: { category: 'invalid-input', summary: 'the stage takes no approval of that type' },
  AUDIT_ANCHOR_INVALID: { category: 'invalid-input', summary: 'an audit anchor is not SEQ:HASH' },
  AUDIT_CHAIN_BROKEN: { category: 'integrity', summary: 'the audit hash chain is broken at a record' },
  AUDIT_EXPORT_ABORTED: { category: 'unavailable', summary: 'the audit export stopped: its reader went away' },
  AUDIT_EXPORT_FORMAT: { category: 'invalid-input', summary: 'the audit export format is not jsonl or cef' },
  AUDIT_HEAD_MISSING: { category: 'integrity', summary: 'the audit chain head row is missing' },
  AUDIT_QUERY_INVALID: { category: 'invalid-input', summary: 'an audit query parameter is out of range' },
  AUDIT_RECORD_INVALID: { category: 'invalid-input', summary: 'an audit record is malformed' },
  AUTH_CHALLENGE_INVALID: { category: 'integrity', summary: "a registry's Bearer challenge is malformed" },
  AUTH_REALM_REFUSED: { category: 'integrity', summary: 'a token realm is not https or is a metadata address' },
  AUTH_TOKEN_FAILED: {
    category: ['unavailable', 'integrity'],
    summary: 'the token server failed (5xx) or answered something unusable',
  },
  BLOB_INTERRUPTED: { category: 'unavailable', summary: 'a blob download broke off' },
  BLOB_TOO_LARGE: { category: 'integrity', summary: 'a blob exceeds the size limit' },
  BODY_INVALID_JSON: { category: 'invalid-input', summary: 'the request body is empty or not JSON' },
  CA_FILE_UNREADABLE: { category: 'invalid-input', summary: 'a CA file cannot be read' },
  CHANGE_MANAGEMENT_UNCONFIGURED: { category: 'invalid-input', summary: 'spec.changeManagement is not configured' },
  CHANGE_NUMBER_INVALID: { category: 'invalid-input', summary: 'a change request number is invalid' },
  CONFIG_INVALID: { category: 'integrity', summary: 'an image config is not a JSON object' },
  COPY_BATCH_INVALID: { category: 'invalid-input', summary: 'a --batch line is not "SRC DST"' },
  COPY_FAILED: { category: 'unavailable', summary: 'some copies of a batch failed' },
  CREDENTIAL_HELPER_FAILED: { category: 'unauthorized', summary: 'a docker credential helper failed' },
  CREDENTIALS_INVALID: { category: 'invalid-input', summary: 'a credentials file is malformed' },
  CRON_INVALID: { category: 'invalid-input', summary: 'a cron expression is invalid' },
  DIGEST_INVALID: { category: 'invalid-input', summary: 'a digest is not algorithm:hex' },
  DIGEST_MISMATCH: { category: 'integrity', summary: 'content does not hash to its digest' },
  DURATION_INVALID: { category: 'invalid-input', summary: 'a duration is invalid' },
  EVENT_INVALID: { category: 'invalid-input', summary: 'a registry notification is malformed' },
  EVENT_QUEUE_FULL: { category: 'unavailable', summary: 'the event queue is full; retry later' },
  EVIDENCE_IS_APPROVAL: {
    category: 'invalid-input',
    summary: 'the evidence type is an approval: use `sluice approve`',
  },
  EVIDENCE_OPTIONS_INVALID: {
    category: 'invalid-input',
    summary: 'a report file or change request is given with another evidence type',
  },
  EVIDENCE_TYPE_UNKNOWN: { category: 'invalid-input', summary: 'the evidence type is not declared' },
  FILE_EXISTS: { category: 'conflict', summary: 'the file exists; --force overwrites it' },
  FORBIDDEN: { category: 'forbidden', summary: 'the role or team does not allow the operation' },
  FOUR_EYES: { category: 'forbidden', summary: 'the actor may not approve their own change' },
  GATE_FAILED: { category: 'policy-violation', summary: "the stage's gate is not satisfied" },
  HOLD_REASON_MISSING: { category: 'invalid-input', summary: 'a hold needs a reason' },
  IMAGE_NOT_FOUND: { category: 'not-found', summary: 'the image does not exist in the registry' },
  IMAGE_NOT_IN_INVENTORY: { category: 'not-found', summary: 'the image is not in the inventory (run sluice sync?)' },
  INDEX_TOO_DEEP: { category: 'integrity', summary: 'an index nests deeper than the limit' },
  INDEX_TOO_WIDE: { category: 'integrity', summary: 'an index lists more manifests than the limit' },
  INPUT_NOT_FOUND: { category: 'not-found', summary: 'an input file does not exist' },
  INPUT_TOO_LARGE: { category: 'invalid-input', summary: 'an input file is larger than its limit' },
  INPUT_UNREADABLE: { category: 'invalid-input', summary: 'an input file cannot be read' },
  INSECURE_REGISTRY: { category: 'invalid-input', summary: 'a plain-http registry is not marked insecure' },
  INTERNAL: { category: 'internal', summary: 'a bug; the log has the details' },
  JOB_INVALID: { category: 'invalid-input', summary: 'a scheduled job or lease is misconfigured' },
  JOB_LEASE_EXPIRED: { category: 'unavailable', summary: "a job's lease could not be renewed in time" },
  JOB_LEASE_LOST: { category: 'conflict', summary: "a job's lease was taken by another replica" },
  JOB_UNKNOWN: { category: 'not-found', summary: 'the job is not registered' },
  KEY_UNRESOLVED: { category: 'invalid-input', summary: 'a key reference names an unset variable' },
  LABEL_FILTER_INVALID: { category: 'invalid-input', summary: 'a label filter has no key' },
  LAYER_COMPRESSION_RATIO: {
    category: 'integrity',
    summary: 'a layer expands beyond the compression-ratio limit (a bomb)',
  },
  LAYER_CORRUPT: { category: 'integrity', summary: 'a layer cannot be decompressed' },
  LAYER_EMPTY: { category: 'integrity', summary: 'a layer blob is empty' },
  LAYER_NOT_TAR: { category: 'integrity', summary: 'a layer is neither gzip, zstd nor tar' },
  LAYER_TOO_LARGE: { category: 'integrity', summary: 'a layer or an entry exceeds the uncompressed size limit' },
  LAYER_TOO_MANY_ENTRIES: { category: 'integrity', summary: 'a layer has more entries than the limit' },
  LAYER_TRUNCATED: { category: 'integrity', summary: 'a layer ends before its archive does' },
  LAYER_UNREADABLE: { category: 'integrity', summary: 'a layer could not be read' },
  LDAP_UNAVAILABLE: {
    category: 'unavailable',
    summary: 'the LDAP directory is unreachable or refused the service bind',
  },
  LIST_INVALID: { category: 'integrity', summary: 'a registry listing is malformed' },
  LIST_TOO_LARGE: { category: 'integrity', summary: 'a registry listing exceeds the byte limit' },
  LIST_TOO_LONG: { category: 'integrity', summary: 'a registry listing exceeds the name limit' },
  LISTEN_FAILED: { category: 'unavailable', summary: 'the server cannot listen on its address' },
  LISTEN_INVALID: { category: 'invalid-input', summary: 'the listen address is not HOST:PORT' },
  LOGIN_FAILED: { category: 'unauthorized', summary: 'the user name or password is wrong' },
  LOGIN_RATE_LIMITED: {
    category: 'unavailable',
    status: 429,
    summary: 'too many failed logins for the user or address; retry later',
  },
  MANIFEST_INVALID: { category: 'integrity', summary: 'a manifest is malformed' },
  MANIFEST_TOO_LARGE: { category: 'integrity', summary: 'a manifest exceeds the size limit' },
  MEDIA_TYPE_UNSUPPORTED: { category: 'integrity', summary: 'a manifest media type is not supported' },
  NOT_CONFIRMED: { category: 'usage', summary: 'nothing deleted: confirm on a terminal or pass --yes' },
  NOT_DEPLOYABLE: { category: 'policy-violation', summary: 'the image is not deployable' },
  NOTIFY_FAILED: { category: 'internal', summary: 'a notification failed unexpectedly' },
  NOTIFY_REJECTED: { category: RECEIVER_ANSWER, summary: 'the receiver refused a notification' },
  NOTIFY_SECRET_INVALID: { category: 'invalid-input', summary: "a notification channel's signing secret is empty" },
  NOTIFY_TIMEOUT: { category: 'unavailable', summary: 'a notification was not delivered in time' },
  NOTIFY_UNAVAILABLE: { category: 'unavailable', summary: 'the receiver of a notification is unavailable' },
  NOTIFY_UNEXPECTED_RESPONSE: { category: 'integrity', summary: "the receiver's answer is not what it should be" },
  NOTIFY_URL_INVALID: { category: 'invalid-input', summary: "a notification channel's URL is invalid" },
  OSV_RECORD_INVALID: { category: 'invalid-input', summary: 'an OSV record is malformed or exceeds a bound' },
  OSV_SOURCE_INVALID: { category: 'invalid-input', summary: 'an OSV source is not a directory, zip or URL of records' },
  OSV_SOURCE_TOO_LARGE: { category: 'invalid-input', summary: 'an OSV source exceeds its size or record limit' },
  OSV_SOURCE_UNAVAILABLE: { category: 'unavailable', summary: 'an OSV source could not be downloaded' },
  OSV_ZIP_INVALID: { category: 'invalid-input', summary: 'an OSV zip is malformed or an entry exceeds a bound' },
  PAGINATION_INVALID: { category: 'integrity', summary: "a registry's pagination link is invalid" },
  PAGINATION_RUNAWAY: { category: 'integrity', summary: "a registry's listing does not end" },
  PAYLOAD_TOO_LARGE: { category: 'invalid-input', status: 413, summary: 'the request body exceeds the limit' },
  PLAN_CHANGED: { category: 'conflict', summary: 'the retention plan changed since it was reviewed' },
  PLAN_INVALID: { category: 'invalid-input', summary: 'a saved retention plan is unreadable' },
  PLATFORM_NOT_FOUND: { category: 'not-found', summary: 'the index has no such platform' },
  POLICY_EXPORT_EMPTY: { category: 'invalid-input', summary: 'no stage requires signatures: nothing to export' },
  POLICY_EXPORT_INVALID: { category: 'invalid-input', summary: 'an admission policy export option is invalid' },
  POLICY_INVALID: { category: 'invalid-input', summary: 'the policy file has problems' },
  POLICY_NOT_FOUND: { category: 'not-found', summary: 'the policy file does not exist' },
  POLICY_UNREADABLE: { category: 'invalid-input', summary: 'the policy file cannot be read' },
  PROMOTION_IN_PROGRESS: { category: 'conflict', summary: 'another promotion into the stage is running' },
  PROMOTION_PATH_INVALID: { category: 'invalid-input', summary: 'the image is not in the stage before the target' },
  PUBLIC_KEY_INVALID: { category: 'invalid-input', summary: 'a public key is malformed' },
  PUBLIC_KEY_NOT_FOUND: { category: 'not-found', summary: 'a public key file does not exist' },
  PUBLIC_KEY_UNSUPPORTED: { category: 'invalid-input', summary: 'a public key is not ECDSA P-256' },
  REDIRECT_REFUSED: { category: 'integrity', summary: 'a redirect leaves https or the supported schemes' },
  REFERENCE_INVALID: { category: 'invalid-input', summary: 'an image reference is invalid' },
  REFERRERS_INVALID: { category: 'integrity', summary: "a registry's referrers answer is malformed" },
  REGISTRY_UNKNOWN: { category: 'not-found', summary: 'the registry is not in the policy' },
  REGISTRY_UNREACHABLE: { category: 'unavailable', summary: 'a registry cannot be reached' },
  REPOSITORY_INVALID: { category: 'invalid-input', summary: 'a repository name is invalid' },
  REPOSITORY_UNOWNED: { category: 'invalid-input', summary: 'the repository is not a team stage repository' },
  REQUEST_INVALID: { category: 'invalid-input', summary: 'the request does not match its schema' },
  RESPONSE_TOO_LARGE: { category: 'integrity', summary: 'a response exceeds its size limit' },
  RETENTION_FORBIDDEN: { category: 'forbidden', summary: 'some deletions of a plan were not allowed' },
  RETENTION_INCOMPLETE: { category: 'unavailable', summary: 'some deletions of a plan failed' },
  RETENTION_INPUT_INVALID: { category: 'invalid-input', summary: 'retention input is malformed' },
  RETENTION_NOTHING_APPLIED: { category: 'conflict', summary: 'nothing of the plan could be applied' },
  RETENTION_PLAN_STALE: { category: 'conflict', summary: 'a planned tag moved; plan again' },
  ROLE_UNKNOWN: { category: 'invalid-input', summary: 'the role does not exist' },
  ROLLBACK_IMAGE_INVALID: { category: 'invalid-input', summary: 'rollback takes team/repo' },
  ROLLBACK_NO_TARGET: { category: 'not-found', summary: 'nothing was promoted into the stage before' },
  ROLLBACK_TARGET_GONE: { category: 'not-found', summary: 'the previous digest is no longer in the repository' },
  ROLLBACK_TARGET_HELD: { category: 'conflict', summary: 'the previous digest is under a hold' },
  ROUTE_NOT_FOUND: { category: 'not-found', summary: 'no such route; see the OpenAPI document' },
  SCAN_EVIDENCE_INCOMPLETE: { category: 'invalid-input', summary: 'scan evidence needs a report file' },
  SCAN_FAILED: { category: 'unavailable', summary: 'the scanner could not produce a report' },
  SCAN_REPORT_INVALID: {
    category: 'invalid-input',
    summary: 'a scan report is not valid JSON or not in a format it claims',
  },
  SCAN_REPORT_MISMATCH: { category: 'invalid-input', summary: 'a scan report describes another digest' },
  SCAN_REPORT_UNREADABLE: { category: 'invalid-input', summary: 'a scan report cannot be read' },
  SCHEDULER_STOPPED: { category: 'unavailable', summary: 'the scheduler is shutting down' },
  SECRET_UNRESOLVED: { category: 'invalid-input', summary: 'a secret reference cannot be resolved' },
  SERVICENOW_BAD_RESPONSE: { category: 'integrity', summary: "ServiceNow's answer is malformed or too large" },
  SERVICENOW_CA_UNREADABLE: { category: 'invalid-input', summary: 'the CA file for ServiceNow cannot be read' },
  SERVICENOW_CREDENTIALS_INVALID: { category: 'invalid-input', summary: 'the ServiceNow credentials are empty' },
  SERVICENOW_FORBIDDEN: { category: 'forbidden', summary: 'ServiceNow refused to read change requests' },
  SERVICENOW_NOT_FOUND: { category: 'not-found', summary: 'ServiceNow has no change_request Table API' },
  SERVICENOW_REDIRECT: { category: 'unavailable', summary: 'ServiceNow answered with a redirect' },
  SERVICENOW_REJECTED: { category: 'invalid-input', summary: 'ServiceNow rejected the query' },
  SERVICENOW_UNAUTHORIZED: { category: 'unauthorized', summary: 'ServiceNow rejected the credentials' },
  SERVICENOW_UNAVAILABLE: { category: 'unavailable', summary: 'ServiceNow is unavailable or rate-limiting' },
  SERVICENOW_URL_INVALID: { category: 'invalid-input', summary: 'the ServiceNow URL is invalid' },
  SESSION_INVALID: { category: 'unauthorized', summary: 'the session token is unknown, expired or logged out' },
  SHUTTING_DOWN: { category: 'unavailable', summary: 'the server is shutting down; retry on another replica' },
  SIGNATURE_ANNOTATION_MISMATCH: { category: 'policy-violation', summary: 'signed annotations differ' },
  SIGNATURE_BUNDLE_MALFORMED: { category: 'policy-violation', summary: 'a signature bundle is malformed' },
  SIGNATURE_BUNDLE_UNSUPPORTED: { category: 'policy-violation', summary: 'a signature bundle is not supported' },
  SIGNATURE_BUNDLE_UNVERIFIABLE: { category: 'policy-violation', summary: 'a signature bundle cannot be verified' },
  SIGNATURE_DIGEST_MISMATCH: { category: 'policy-violation', summary: 'a signature is for another digest' },
  SIGNATURE_INVALID: { category: 'policy-violation', summary: 'a signature does not verify' },
  SIGNATURE_MANIFEST_INVALID: { category: 'integrity', summary: 'a signature tag holds no signature manifest' },
  SIGNATURE_NO_KEYS: { category: 'invalid-input', summary: 'no verification keys were given' },
  SIGNATURE_NOT_BASE64: { category: 'policy-violation', summary: 'a signature is not base64' },
  SIGNATURE_NOT_DER: { category: 'policy-violation', summary: 'a signature is not DER' },
  SIGNATURE_NOT_FOUND: { category: 'policy-violation', summary: 'the image has no signature' },
  SIGNATURE_PAYLOAD_INVALID: { category: 'invalid-input', summary: 'a signature payload to sign is invalid' },
  SIGNATURE_PAYLOAD_MALFORMED: { category: 'policy-violation', summary: 'a signed payload is malformed' },
  SIGNATURE_PAYLOAD_TOO_LARGE: { category: 'policy-violation', summary: 'a signed payload exceeds the limit' },
  SIGNATURE_REJECTED: { category: 'policy-violation', summary: 'no signature verifies with the keys' },
  SIGNATURE_SELF_CHECK_FAILED: { category: 'internal', summary: 'a new signature does not verify with its own key' },
  SIGNATURE_WRITE_CONFLICT: { category: 'conflict', summary: 'the signature tag kept changing while signing' },
  SIGNATURE_WRONG_TYPE: { category: 'policy-violation', summary: 'a signed payload has the wrong type' },
  SIGNATURES_TOO_MANY: { category: 'integrity', summary: 'an image has more signatures than Sluice examines' },
  SIGNING_KEY_EXISTS: { category: 'conflict', summary: 'a key file exists' },
  SIGNING_KEY_INVALID: { category: 'invalid-input', summary: 'a signing key file is malformed' },
  SIGNING_KEY_KDF_FAILED: { category: 'internal', summary: 'key derivation failed' },
  SIGNING_KEY_KDF_UNSUPPORTED: { category: 'invalid-input', summary: 'the key derivation is not supported' },
  SIGNING_KEY_NOT_FOUND: { category: 'not-found', summary: 'a key file does not exist' },
  SIGNING_KEY_PASSWORD: { category: 'unauthorized', summary: 'the key password is incorrect' },
  SIGNING_KEY_REF_INVALID: { category: 'invalid-input', summary: 'a vault:// key reference is invalid' },
  SIGNING_KEY_REF_UNSUPPORTED: { category: 'invalid-input', summary: 'a key reference names an unsupported KMS' },
  SIGNING_KEY_UNREADABLE: { category: 'invalid-input', summary: 'a key file cannot be read' },
  SIGNING_KEY_UNSUPPORTED: { category: 'invalid-input', summary: 'a signing key is not ECDSA P-256' },
  SIGNING_KEY_WRITE_FAILED: { category: 'internal', summary: 'a key file cannot be written' },
  SIGNING_PASSWORD_ABORTED: { category: 'invalid-input', summary: 'the password prompt was interrupted' },
  SIGNING_PASSWORD_MISMATCH: { category: 'invalid-input', summary: 'the two passwords differ' },
  SIGNING_PASSWORD_MISSING: { category: 'invalid-input', summary: 'no signing-key password was given' },
  SIZE_INVALID: { category: 'integrity', summary: 'declared sizes are impossible' },
  SIZE_MISMATCH: { category: 'integrity', summary: 'content is not the size its descriptor declares' },
  STAGE_TAG_MISSING: { category: 'not-found', summary: 'the stage tag does not exist' },
  STAGE_UNKNOWN: { category: 'invalid-input', summary: 'the stage is not in the policy' },
  STORE_CLOSED: { category: 'internal', summary: 'the database is closed' },
  STORE_CONFLICT: { category: 'conflict', summary: 'a row with the same key exists' },
  STORE_MIGRATION_FAILED: { category: 'internal', summary: 'a database migration failed' },
  STORE_MIGRATION_GAP: { category: 'conflict', summary: 'a database migration was skipped' },
  STORE_MIGRATION_LIST: { category: 'internal', summary: 'the migration list is not contiguous' },
  STORE_MIGRATION_MODIFIED: { category: 'conflict', summary: 'an applied migration was modified' },
  STORE_NOT_MIGRATED: { category: 'unavailable', summary: 'the database is not migrated to this version' },
  STORE_SCHEMA_NEWER: { category: 'conflict', summary: 'the database is newer than this Sluice' },
  STORE_UNAVAILABLE: { category: 'unavailable', summary: 'the database is unavailable or busy' },
  STORE_UNSUPPORTED: { category: 'internal', summary: 'the store does not support the operation' },
  STORE_URL_INVALID: { category: 'invalid-input', summary: 'the database URL is invalid' },
  STORE_VALUE_INVALID: { category: 'invalid-input', summary: 'a value cannot be stored' },
  STORE_VALUE_RANGE: { category: 'internal', summary: 'a stored integer is beyond the safe range' },
  STORE_VALUE_UNSUPPORTED: { category: 'internal', summary: 'a value has a type the store does not take' },
  SYNC_INCOMPLETE: { category: 'unavailable', summary: 'sync finished with errors' },
  SYNC_TIMEOUT: { category: 'unavailable', summary: 'sync did not finish in time' },
  TAG_DELETE_FAILED: {
    category: ['unauthorized', 'forbidden', 'unavailable', 'integrity'],
    summary: "the registry's API refused to delete a tag",
  },
  TAG_DELETE_UNSUPPORTED: { category: 'forbidden', summary: 'the registry cannot delete a tag alone' },
  TAG_IMMUTABLE: { category: 'conflict', summary: 'version tags never move' },
  TEAM_UNKNOWN: { category: 'invalid-input', summary: 'the team is not in the policy' },
  TIME_ZONE_INVALID: { category: 'invalid-input', summary: 'the time zone is unknown' },
  TLS_FILE_UNREADABLE: { category: 'invalid-input', summary: "the server's TLS file cannot be read" },
  TLS_UNTRUSTED: { category: 'integrity', summary: "a registry's TLS certificate is not trusted" },
  TOKEN_EXPIRED: { category: 'unauthorized', summary: 'the API token expired' },
  TOKEN_EXPIRY_INVALID: { category: 'invalid-input', summary: 'the token expiry is invalid' },
  TOKEN_INVALID: { category: 'unauthorized', summary: 'the API token is invalid' },
  TOKEN_MISSING: { category: 'unauthorized', summary: 'the request has no API token' },
  TOKEN_NAME_INVALID: { category: 'invalid-input', summary: 'the token name has characters it may not have' },
  TOKEN_NAME_TAKEN: { category: 'conflict', summary: 'an active token has that name' },
  TOKEN_REVOKED: { category: 'unauthorized', summary: 'the API token was revoked' },
  TOKEN_TEAMS_NOT_APPLICABLE: { category: 'invalid-input', summary: 'the role takes no teams' },
  TOKEN_TEAMS_REQUIRED: { category: 'invalid-input', summary: 'the role needs teams' },
  TOKEN_UNKNOWN: { category: 'not-found', summary: 'no API token has that id' },
  TOO_MANY_REDIRECTS: { category: 'integrity', summary: 'a peer redirected too often' },
  TRASH_ENTRY_NOT_FOUND: { category: 'not-found', summary: 'nothing to restore' },
  UNAUTHORIZED: { category: 'unauthorized', summary: 'authentication failed' },
  UNSUPPORTED_MEDIA_TYPE: { category: 'invalid-input', status: 415, summary: 'the request content type is not taken' },
  UPLOAD_INVALID: { category: 'integrity', summary: "a registry's upload answer is unusable" },
  UPLOAD_NOT_REPLAYABLE: { category: 'unavailable', summary: 'an upload was asked to start over' },
  USAGE: { category: 'usage', summary: 'the command line is wrong' },
  USAGE_REPORT_INVALID: { category: 'invalid-input', summary: 'a usage report is malformed' },
  VAULT_ADDRESS_INVALID: { category: 'invalid-input', summary: 'VAULT_ADDR is not a credential-free URL' },
  VAULT_ADDRESS_MISSING: { category: 'invalid-input', summary: 'VAULT_ADDR is not set' },
  VAULT_AUTH_INVALID: { category: 'unauthorized', summary: 'the Kubernetes service account token is unusable' },
  VAULT_AUTH_MISSING: { category: 'unauthorized', summary: 'no Vault credentials' },
  VAULT_AUTH_MOUNT_INVALID: { category: 'invalid-input', summary: 'the Kubernetes auth mount is not a Vault path' },
  VAULT_BAD_REQUEST: { category: 'invalid-input', summary: 'Vault rejected the request' },
  VAULT_CACERT_UNREADABLE: { category: 'invalid-input', summary: 'VAULT_CACERT cannot be read' },
  VAULT_INSECURE: { category: 'invalid-input', summary: 'VAULT_ADDR is plain http off loopback' },
  VAULT_KEY_UNSUPPORTED: { category: 'invalid-input', summary: 'the transit key is not ecdsa-p256' },
  VAULT_LOGIN_FAILED: { category: 'unauthorized', summary: 'the Vault Kubernetes login was refused' },
  VAULT_NOT_FOUND: { category: 'not-found', summary: 'Vault has no such path or key' },
  VAULT_PERMISSION_DENIED: { category: 'forbidden', summary: 'the Vault token may not use this path' },
  VAULT_REDIRECT_REFUSED: { category: 'unavailable', summary: 'Vault answered with a redirect' },
  VAULT_RESPONSE_INVALID: { category: 'integrity', summary: "Vault's answer is malformed" },
  VAULT_SIGNATURE_INVALID: { category: 'integrity', summary: "Vault's signature is malformed" },
  VAULT_TLS_UNTRUSTED: { category: 'unavailable', summary: "Vault's TLS certificate is not trusted" },
  VAULT_UNAUTHORIZED: { category: 'unauthorized', summary: 'Vault rejected the token' },
  VAULT_UNAVAILABLE: { category: 'unavailable', summary: 'Vault is unavailable' },
  VAULT_UNREACHABLE: { category: 'unavailable', summary: 'Vault cannot be reached' },
  VERSION_INVALID: { category: 'invalid-input', summary: 'a package version is invalid for its scheme' },
  VERSION_TAG_UNKNOWN: { category: 'invalid-input', summary: 'no single version tag points to the digest' },
  WEBHOOK_NOT_CONFIGURED: { category: 'forbidden', summary: 'no webhook secret is configured for the source' },
  WEBHOOK_SECRET_UNRESOLVED: { category: 'invalid-input', summary: 'the webhook secret cannot be resolved' },
  WEBHOOK_UNAUTHORIZED: { category: 'unauthorized', summary: 'the webhook secret is missing or wrong' },
  WAIVER_INVALID: { category: 'invalid-input', summary: 'a waiver request is malformed' },
  WAIVER_NOT_FOUND: { category: 'not-found', summary: 'no such waiver' },
  WAIVER_TOO_LONG: { category: 'policy-violation', summary: 'the waiver lasts longer than the policy allows' },
  WINDOW_NONE: { category: 'conflict', summary: 'the stage has no upcoming maintenance window' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

type Categories<S> = S extends { readonly category: infer K } ? (K extends readonly (infer E)[] ? E : K) : never;

/** The categories `code` is thrown with; for a union of codes, any of theirs. */
export type CategoryOf<C extends ErrorCode> = C extends ErrorCode ? Categories<(typeof ERROR_CODES)[C]> : never;

/** The codes thrown with category `K`, for helpers that always throw one category. */
export type CodeOf<K extends ErrorCategory> = { [C in ErrorCode]: K extends CategoryOf<C> ? C : never }[ErrorCode];

declare const relayed: unique symbol;
/**
 * A code a peer chose and Sluice passes on: a registry's OCI distribution error code
 * (MANIFEST_UNKNOWN, DENIED, ...), `HTTP_<status>` when its body has none, or a web
 * framework's code. Made only by `relayedCode`, so a literal typo never passes for one.
 */
export type RelayedCode = string & { readonly [relayed]: true };

export function relayedCode(code: string): RelayedCode {
  return code as RelayedCode;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The HTTP status of a code when it is more specific than its category's. */
export function ownStatusOf(code: ErrorCode): number | undefined {
  return (ERROR_CODES[code] as CodeSpec).status;
}

/** The categories a listed code is thrown with, as a list. */
export function categoriesOf(code: ErrorCode): readonly ErrorCategory[] {
  const { category } = ERROR_CODES[code] as CodeSpec;
  return typeof category === 'string' ? [category] : category;
}
