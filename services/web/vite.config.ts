/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The bundle goes to TD_WEB_OUT (the Makefile passes $(BUILD)/web), else build/.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: process.env.TD_WEB_OUT ?? 'build',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target: process.env.TD_GATEWAY ?? 'http://127.0.0.1:8080', ws: true },
      '/openapi.json': process.env.TD_GATEWAY ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'node',
    include: ['tests/unit/**/*.test.ts'],
  },
});
