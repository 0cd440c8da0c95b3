// The DFU host: DFU 1.1 requests, ST's DfuSe extensions, memory layouts, the switch from
// run-time to DFU mode, and the option-byte safety rules.
export * from './protocol.js';
export * from './errors.js';
export * from './layout.js';
export * from './layout-check.js';
export * from './option-bytes-guard.js';
export * from './guarded-transport.js';
export type { ImageSegment } from '../image/firmware-image.js';
export { DfuClient, DEFAULT_DFU_CLIENT_OPTIONS, type DfuClientOptions, type PollOptions } from './dfu-client.js';
export * from './dfuse-client.js';
export * from './enter-dfu-mode.js';
export * from './dfuse-plan.js';
export { DfuseExecutor, type DfuseExecutorSettings, type RunOptions } from './dfuse-executor.js';
export * from './flash-content-cache.js';
