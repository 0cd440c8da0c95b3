// What the image readers' tests share: the typed error a reader must throw for bad input.
import { expect } from 'vitest';
import { ImageError } from '../errors.js';

/** Runs `work` and returns the ImageError it throws; fails the test if it throws anything else or nothing. */
export function imageErrorOf(work: () => unknown): ImageError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ImageError);
    return error as ImageError;
  }
  throw new Error('expected an ImageError, nothing was thrown');
}
