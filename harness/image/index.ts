// Firmware images, shared by the DFU host, the rigs and the simulated board, knowing none of
// them: the common model, .bin/.hex/.dfu/ELF readers and writers, the version block, when a
// vector table is valid code, synthetic test-application images, the manifest hash check.
export * from './errors.js';
export * from './crc32.js';
export * from './firmware-image.js';
export * from './version-block.js';
export * from './vector-table.js';
export * from './synthetic-app.js';
export * from './bin.js';
export * from './intel-hex.js';
export * from './dfuse-file.js';
export * from './image-file.js';
export * from './bin-placement.js';
export * from './manifest-check.js';
