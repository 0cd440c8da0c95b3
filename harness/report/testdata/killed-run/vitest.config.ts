// A small suite run in a child vitest by allure-live-reporter.test.ts, with the project's Allure
// reporter writing into the folders the parent names.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  test: {
    root: here,
    include: ['*.check.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    reporters: [[fileURLToPath(new URL('../../allure-live-reporter.ts', import.meta.url)), {
      resultsDir: process.env.DFU_HIL_TEST_RESULTS, archiveDir: process.env.DFU_HIL_TEST_ARCHIVE,
    }]],
  },
});
