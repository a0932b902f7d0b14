// Lint: typescript-eslint's recommended rules, and the line the style guide draws: nothing under
// src/engine may import `vscode` (the engine runs in a worker and in the CLIs, without an editor).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', '.venv/**', 'media/**', 'models/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/engine/**/*.ts', 'src/cli/**/*.ts', 'src/bench/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/engine must stay free of the editor API' }] }],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
