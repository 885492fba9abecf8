/**
 * `spec.identity`: where people log in. Today one source, an LDAP directory
 * (src/identity/ldap.ts), whose groups map to teams and roles.
 */
import { ROLES } from '../schema.ts';
import {
  array,
  boolean,
  object,
  oneOf,
  optional,
  refers,
  required,
  string,
  uniqueArray,
  withDefault,
} from '../validate.ts';
import { pathString, secretRef } from './scalars.ts';

const ldapUrl = string({
  expected: 'an ldap:// or ldaps:// URL (scheme, host and port only)',
  pattern: /^ldaps?:\/\/[^/?#@\s]+\/?$/i,
});
const dn = string({
  expected: 'a distinguished name such as cn=sluice,ou=services,dc=example,dc=org',
  pattern: /^[^=,]+=.+$/,
});
const attributeName = string({ expected: 'an LDAP attribute name', pattern: /^[A-Za-z][A-Za-z0-9-]*$/ });

function filter(placeholder: string, fallback: string): ReturnType<typeof withDefault<string>> {
  return withDefault(
    string({
      expected: `an LDAP filter in parentheses with ${placeholder}, such as ${fallback}`,
      pattern: new RegExp(`^\\(.*\\{${placeholder.slice(1, -1)}\\}.*\\)$`),
    }),
    fallback,
  );
}

const groupMapping = object({
  dn: required(dn),
  team: optional(refers('team', 'team')),
  roles: required(uniqueArray(oneOf(ROLES), 'role', { min: 1 })),
});

const ldap = object(
  {
    url: required(ldapUrl),
    startTLS: withDefault(boolean(), false),
    caFile: optional(pathString),
    bindDN: required(dn),
    bindPassword: required(secretRef),
    userSearch: required(
      object({
        base: required(dn),
        filter: filter('{username}', '(uid={username})'),
        attributes: withDefault(object({ displayName: optional(attributeName), mail: optional(attributeName) }), {
          displayName: 'cn',
          mail: 'mail',
        }),
      }),
    ),
    groupSearch: optional(object({ base: required(dn), filter: filter('{dn}', '(member={dn})') })),
    groups: withDefault(array(groupMapping), []),
  },
  {
    check: (l, h) => {
      if (l.startTLS && l.url !== undefined && /^ldaps:/i.test(l.url)) {
        h.ctx.report(
          h.ctx.locOf(l, 'startTLS'),
          'startTLS: false with an ldaps:// URL',
          'startTLS: true',
          'startTLS upgrades an ldap:// connection; an ldaps:// URL is TLS already: set startTLS: false or use ldap://',
        );
      }
    },
  },
);

export const identity = object({ ldap: optional(ldap) });
