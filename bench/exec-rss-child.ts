// Child process of exec-bench.ts: boards booted to READY in a fresh process, executed or modelled
// (argv: mode, count), so that memory freed by earlier benchmarks cannot hide what a board adds.
// Prints one JSON line.
import { rssPerBoardMiB } from './exec-bench.js';

const [mode = 'executed', count = '4'] = process.argv.slice(2);
const perBoardMiB = await rssPerBoardMiB(mode === 'executed', Number(count));
process.stdout.write(`${JSON.stringify({ perBoardMiB })}\n`);
