// Builds the MCP App (console/app/: the terminal view of one execution) into dist/mcp-app as one script and one style
// sheet, which the server inlines into the single HTML resource hosts render (they load nothing else).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./app', import.meta.url)),
  base: './',
  publicDir: false,
  envDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/mcp-app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: false,
    chunkSizeWarningLimit: 2048,
    // One file of each kind: the server inlines them, so nothing may be split off or referenced by URL.
    assetsInlineLimit: Number.MAX_SAFE_INTEGER,
    cssCodeSplit: false,
    rolldownOptions: { output: { codeSplitting: false } },
  },
});
