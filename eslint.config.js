import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SHELLS = ['src/cli/**', 'src/server/**'];
const HTTP_SENDERS = ['src/oci/**', 'src/registries/**', 'src/http/**'];
const DOMAIN_UPWARD = {
  group: ['**/cli/**', '**/server/**'],
  message: 'domain modules must not import the CLI or the server',
};
const SEND_HTTP = 'only src/oci/, src/registries/ and src/http/ send HTTP; use OutboundClient from src/http/';
// Types (IncomingHttpHeaders for a Fastify route) send nothing and stay allowed.
const HTTP_MODULES = ['node:http', 'node:https', 'node:http2', 'http', 'https', 'http2', 'undici'].map((name) => ({
  name,
  message: SEND_HTTP,
  allowTypeImports: true,
}));
const NO_GLOBAL_HTTP = {
  'no-restricted-globals': ['error', { name: 'fetch', message: SEND_HTTP }],
  'no-restricted-properties': ['error', { object: 'globalThis', property: 'fetch', message: SEND_HTTP }],
  'no-restricted-syntax': [
    'error',
    {
      selector: "CallExpression[callee.property.name='getBuiltinModule'][arguments.0.value=/^(node:)?https?2?$/]",
      message: SEND_HTTP,
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/', '.sluice/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['bin/*.js'], languageOptions: { globals: { process: 'readonly' } } },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  // Layering: the CLI and server are thin shells, and domain modules must not reach up into them;
  // only the registry layer (src/oci/, src/registries/) and the outbound HTTP module (src/http/)
  // send HTTP, so timeouts, size caps, TLS settings and credential rules live in one place.
  {
    files: ['src/**/*.ts'],
    ignores: [...SHELLS, ...HTTP_SENDERS],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [DOMAIN_UPWARD], paths: HTTP_MODULES }],
      ...NO_GLOBAL_HTTP,
    },
  },
  {
    files: SHELLS,
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', { paths: HTTP_MODULES }],
      ...NO_GLOBAL_HTTP,
    },
  },
  {
    files: HTTP_SENDERS,
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [DOMAIN_UPWARD] }],
    },
  },
);
