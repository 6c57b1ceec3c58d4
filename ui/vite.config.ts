import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Vitest loads this file in mode 'test': the components under test then
// resolve Svelte's browser build (mount() is missing from the server one).
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  clearScreen: false,
  build: { target: 'safari15', outDir: 'dist', emptyOutDir: true },
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
}));
