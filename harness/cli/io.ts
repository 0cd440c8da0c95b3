/** A text sink: process.stdout, or a buffer in tests. */
export interface TextOut {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** What the CLI touches of the outside world, injectable so tests run it in-process. */
export interface CliIo {
  stdout: TextOut;
  stderr: TextOut;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
