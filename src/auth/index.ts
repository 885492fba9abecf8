/** Authentication (API tokens) and authorisation (roles → permissions, team scope). */
export {
  GLOBAL_ROLES,
  PERMISSIONS,
  READ_PERMISSIONS,
  ROLE_PERMISSIONS,
  actorOf,
  authorize,
  isGlobalRole,
  isReadPermission,
  isRole,
  permissionsFor,
} from './permissions.ts';
export type { ApprovalPermission, Decision, Permission, Principal, Resource, StaticPermission } from './permissions.ts';
export {
  DEFAULT_TOKEN_LIFETIME,
  TOKEN_PREFIX,
  authenticateToken,
  createToken,
  generateToken,
  hashToken,
  listTokens,
  looksLikeToken,
  revokeToken,
  validateTokenRequest,
} from './tokens.ts';
export type { AuditFn, CreatedToken, TokenInfo, TokenRequest, TokenStatus } from './tokens.ts';
