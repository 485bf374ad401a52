// ESLint (flat config): typescript-eslint's recommended rules over the sources, tests, examples and
// benchmarks; formatting is Prettier's job (npm run lint runs both).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a parameter an interface requires and this implementation does not read.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Empty functions are deliberate no-op listeners (`on('error', ignore)`); each says why nearby.
      '@typescript-eslint/no-empty-function': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Validation regexes name control bytes on purpose: they are what a header or target must not hold.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['test/**', 'bench/**', 'examples/**'],
    rules: {
      // Tests reach into internals and build hostile inputs on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
