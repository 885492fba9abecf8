/**
 * `spec.categories` and `spec.evidenceTypes`: what gates can ask evidence of.
 */
import { defines, object, optional, refers, required, string } from '../validate.ts';
import { duration, name } from './scalars.ts';

export const category = object({
  name: required(defines('category', 'category', name('category'))),
  owner: optional(refers('team', 'team')),
  description: optional(string()),
});

export const evidenceType = object({
  name: required(defines('evidence', 'evidence type', name('evidence type'))),
  description: required(string({ minLength: 1 })),
  maxAge: optional(duration()),
});

export const evidenceRef = refers('evidence', 'evidence type', string({ expected: 'an evidence type name' }));
