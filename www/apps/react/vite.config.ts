// Builds the demo's React panel into www/build/react/ (scripts/demo-build.sh). `endsession` resolves to this
// workspace's own build (dist/), not to a registry copy.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../../dist/', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  base: './',
  logLevel: 'warn',
  resolve: {
    alias: [
      { find: /^endsession$/, replacement: `${dist}index.js` },
      { find: /^endsession\/(.*)$/, replacement: `${dist}$1/index.js` },
    ],
  },
  build: {
    outDir: fileURLToPath(new URL('../../build/react/', import.meta.url)),
    emptyOutDir: true,
    rollupOptions: {
      input: fileURLToPath(new URL('main.tsx', import.meta.url)),
      output: { entryFileNames: 'react-panel.js', assetFileNames: 'assets/[name][extname]' },
    },
  },
});
