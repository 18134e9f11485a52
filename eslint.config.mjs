import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      'node_modules/**',
      'coverage/**',
      'test-artifacts/**',
      '*.js',
      '*.mjs',
      'scripts/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The demo page's plain browser script: no TypeScript project, browser globals.
    files: ['demo/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'console',
          'fetch',
          'location',
          'navigator',
          'URLSearchParams',
          'WebSocket',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'localStorage',
          'HTMLElement',
          'URL',
          'FormData',
          'Event',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
