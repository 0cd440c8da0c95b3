import { defineConfig } from 'vitest/config';

// Two projects: `unit` (harness/**/*.test.ts, next to the code) and `hil` (specs/, run against
// the rig chosen by RIG or rigs.yaml's default). Allure results go to allure-results/.
export default defineConfig({
  test: {
    reporters: ['default', ['allure-vitest/reporter', { resultsDir: 'allure-results' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['harness/**/*.test.ts', 'fixtures/**/*.test.ts', 'bench/**/*.test.ts', 'firmware-images/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'hil',
          include: ['specs/**/*.spec.ts'],
          // Hardware rigs are exclusive: one worker owns the board for the whole run.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
