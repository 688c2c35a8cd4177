/**
 * Builds the dashboard (this folder) into ../dist/ui, served by src/serve.ts at /ui/: hashed file
 * names under assets/ (cached as immutable), no inline script (the Content-Security-Policy forbids
 * it: Vite's modulepreload polyfill is off, the entry is an external module), every asset
 * bundled (no CDN).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
