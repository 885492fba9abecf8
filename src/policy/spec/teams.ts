/**
 * `spec.teams`: teams and their members.
 */
import { ROLES } from '../schema.ts';
import { array, defines, object, oneOf, refers, required, uniqueArray, withDefault } from '../validate.ts';
import { email, teamName, userName } from './scalars.ts';

export const member = object(
  {
    user: required(userName),
    roles: required(uniqueArray(oneOf(ROLES), 'role', { min: 1 })),
  },
  {
    check: (m, h) => {
      // Approval groups check their users against these facts.
      if (m.user === undefined || m.roles === undefined) return;
      const user = m.user;
      h.ctx.builtin(
        'member-role',
        m.roles.map((r) => `${user}/${r}`),
      );
    },
  },
);

export const team = object(
  {
    name: required(defines('team', 'team', teamName)),
    contact: required(email),
    category: withDefault(refers('category', 'category'), 'application'),
    members: withDefault(
      array(member, {
        check: (items, h) => {
          const seen = new Set<string>();
          for (const it of items) {
            if (seen.has(it.value.user)) {
              h.ctx.report(
                h.ctx.locOf(it.value, 'user'),
                'each user once per team (list all roles in one entry)',
                `\`${it.value.user}\` again`,
                `user \`${it.value.user}\` is listed twice in this team; give one entry with all roles`,
              );
            }
            seen.add(it.value.user);
          }
        },
      }),
      [],
    ),
  },
  { hints: { owner: 'teams own images; to name a category owner, set `owner` on the category' } },
);
