/// <reference types="vitest/config" />
import { svelte } from '@sveltejs/vite-plugin-svelte';
import tailwindcss from '@tailwindcss/vite';
import { defineConfig } from 'vite';

// The Foreman server the dev and preview servers forward `/api` and `/ws` to.
const target = process.env.FOREMAN_URL ?? 'http://127.0.0.1:8080';
const proxy = {
  '/api': { target, changeOrigin: true },
  '/ws': { target, changeOrigin: true, ws: true },
};

export default defineConfig({
  plugins: [tailwindcss(), svelte()],
  build: {
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 300,
  },
  server: { proxy },
  preview: { proxy },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
