// Lint: typescript-eslint recommended rules plus the layering rule that keeps dependencies pointing one way:
// vp <- hv <- winhv <- vid <- vmwp <- vmms <- cli (see ARCHITECTURE.md). A folder may not import any folder
// listed as "above" it. storage, net and guest-images stand alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layers = {
  vp: ['hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net', 'guest-images'],
  hv: ['winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net', 'guest-images'],
  winhv: ['vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net', 'guest-images'],
  // VID reaches the hypervisor only through WinHv.
  vid: ['hv', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'net', 'guest-images'],
  vdev: ['vmwp', 'vmms', 'cli', 'storage', 'net', 'vsp', 'guest-images'],
  firmware: ['vmwp', 'vmms', 'cli', 'storage', 'net', 'vsp', 'vdev', 'guest-images'],
  vmbus: ['vmwp', 'vmms', 'cli', 'vsp', 'guest-images'],
  vsp: ['vmwp', 'vmms', 'cli', 'guest-images'],
  storage: ['vp', 'hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'net', 'guest-images'],
  net: ['vp', 'hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'storage', 'guest-images'],
  // The guest images (kernel, initramfs) are fetched and built by tooling that stands alone like storage.
  'guest-images': ['vp', 'hv', 'winhv', 'vid', 'vdev', 'firmware', 'vmbus', 'vsp', 'vmwp', 'vmms', 'cli', 'net'],
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
