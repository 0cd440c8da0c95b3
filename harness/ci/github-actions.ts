// The few ways a step talks back to GitHub Actions: step outputs, the job summary and error
// annotations. Outside Actions (the variables unset) outputs and summaries are skipped.
import { appendFile } from 'node:fs/promises';

/** Appends `name=value` lines to $GITHUB_OUTPUT; values must be single-line (compact JSON is). */
export async function setStepOutputs(outputFile: string | undefined, values: Readonly<Record<string, string>>): Promise<void> {
  for (const [name, value] of Object.entries(values)) {
    if (/[\r\n]/.test(value)) throw new Error(`step output "${name}" has a line break; pass compact JSON or one line`);
  }
  if (!outputFile) return;
  await appendFile(outputFile, Object.entries(values).map(([name, value]) => `${name}=${value}\n`).join(''));
}

/** Appends Markdown to the job summary ($GITHUB_STEP_SUMMARY). */
export async function appendStepSummary(summaryFile: string | undefined, markdown: string): Promise<void> {
  if (summaryFile) await appendFile(summaryFile, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
}

const escapeData = (text: string): string => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (text: string): string => escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** A workflow command that shows `message` as an error annotation titled `title` on the run. */
export function errorAnnotation(title: string, message: string): string {
  return `::error title=${escapeProperty(title)}::${escapeData(message)}`;
}
