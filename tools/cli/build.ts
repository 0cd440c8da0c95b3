// `npm run build:cli` (and `prepare`, after every `npm install` / `npm ci`): compiles the CLI once
// into node_modules/.cache/dfu-hil/cli/, so `dfu-hil` starts without compiling TypeScript.
//   --if-possible   a failed build is a warning, not an error: dfu-hil then starts through tsx
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildCli } from '../../harness/cli/startup/cli-build.js';

const { values } = parseArgs({ options: { 'if-possible': { type: 'boolean', default: false } } });
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
try {
  const report = await buildCli({ root });
  console.log(`dfu-hil: built the CLI from ${report.inputs} sources into ${path.relative(root, report.outDir)} (${report.outputs} files)`);
} catch (error) {
  const message = `dfu-hil: could not build the CLI: ${(error as Error).message}`;
  if (!values['if-possible']) {
    console.error(message);
    process.exit(1);
  }
  console.warn(`${message}\ndfu-hil: it starts from the TypeScript instead (slower); \`npm run build:cli\` tries again.`);
}
