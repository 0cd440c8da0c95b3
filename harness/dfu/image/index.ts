// Firmware images: the common model, .bin/.hex/.dfu readers and writers, the version block and
// synthetic test-application images.
export * from './errors.js';
export * from './crc32.js';
export * from './firmware-image.js';
export * from './version-block.js';
export * from './vector-table.js';
export * from './synthetic-app.js';
export * from './bin.js';
export * from './intel-hex.js';
export * from './dfuse-file.js';
export * from './layout-check.js';
export * from './image-file.js';
export * from './bin-placement.js';
export * from './manifest-check.js';
