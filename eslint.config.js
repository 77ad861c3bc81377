// Lint: typescript-eslint recommended rules plus the layering rule that keeps dependencies pointing one way:
// vp <- hv <- winhv <- vid <- vmwp <- vmms <- cli (see ARCHITECTURE.md). A folder may not import any folder
// listed as "above" it. storage and net stand alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layers = {
  vp: ['hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net'],
  hv: ['winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net'],
  winhv: ['vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net'],
  // VID reaches the hypervisor only through WinHv.
  vid: ['hv', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net'],
  vdev: ['vmwp', 'vmms', 'cli', 'storage', 'net', 'vsp'],
  firmware: ['vmwp', 'vmms', 'cli', 'storage', 'net', 'vsp', 'vdev'],
  vmbus: ['vmwp', 'vmms', 'cli', 'vsp'],
  vsp: ['vmwp', 'vmms', 'cli'],
  storage: ['vp', 'hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'net'],
  net: ['vp', 'hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage'],
  vmwp: ['vmms', 'cli'],
  vmms: ['cli'],
};

const layerRules = Object.entries(layers).map(([layer, forbidden]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({
        group: [`**/${f}/**`, `**/${f}`, `../${f}/*`],
        message: `src/${layer} may not depend on src/${f} (dependency direction, see ARCHITECTURE.md).`,
      })),
    }],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-fallthrough': 'off',
      'no-case-declarations': 'off',
      'prefer-const': 'error',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  ...layerRules,
);
