// Three tests that end, one that runs until the parent kills the run, one that never starts.
import * as allure from 'allure-js-commons';
import { expect, test } from 'vitest';

test('first ends and attaches a note', async () => {
  await allure.attachment('note', 'written before the run was killed', 'text/plain');
  expect(1 + 1).toBe(2);
});

test('second ends', () => {
  expect('dfu').toHaveLength(3);
});

test('third fails', () => {
  expect(2 + 2, 'a failure must be kept too').toBe(5);
});

test('fourth runs until the run is killed', async () => {
  // Keeps the worker busy; the parent test kills the run while this waits.
  await new Promise<void>(() => { setInterval(() => undefined, 1_000); });
});

test('fifth never starts', () => {
  expect(true).toBe(true);
});
