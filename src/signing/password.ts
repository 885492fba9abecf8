/**
 * Where the signing-key password comes from: the environment (`SLUICE_SIGNING_PASSWORD`, then
 * cosign's `COSIGN_PASSWORD`), else a prompt on a terminal with echo off. Never a command-line
 * argument: those end up in shell history and in every process listing.
 */
import type { Writable } from 'node:stream';
import { SluiceError } from '../errors.ts';

export const PASSWORD_ENV_VARS = ['SLUICE_SIGNING_PASSWORD', 'COSIGN_PASSWORD'] as const;

/** The part of a TTY read stream the prompt needs; tests pass a fake. */
export interface PromptInput {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  on(event: 'data', listener: (chunk: string) => void): unknown;
  removeListener(event: 'data', listener: (chunk: string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface PasswordOptions {
  env?: Record<string, string | undefined>;
  /** Prompt when no variable is set and `input` is a terminal. Default true. */
  promptIfTty?: boolean;
  /** Ask twice and require both to match (key generation). */
  confirm?: boolean;
  /** What the prompt says; default "Enter password for private key: ". */
  prompt?: string;
  input?: PromptInput;
  output?: Writable;
}

/**
 * Resolves the password. A variable that is set but empty counts (cosign treats an empty
 * `COSIGN_PASSWORD` as an unencrypted-by-password key, and users rely on that in CI).
 */
export async function resolveSigningPassword(options: PasswordOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  for (const name of PASSWORD_ENV_VARS) {
    const value = env[name];
    if (value !== undefined) return value;
  }
  const input = options.input ?? (process.stdin as PromptInput);
  const output = options.output ?? process.stderr;
  if ((options.promptIfTty ?? true) && input.isTTY && typeof input.setRawMode === 'function') {
    const first = await readHidden(input, output, options.prompt ?? 'Enter password for private key: ');
    if (!options.confirm) return first;
    const second = await readHidden(input, output, 'Enter password for private key again: ');
    if (first !== second)
      throw new SluiceError('SIGNING_PASSWORD_MISMATCH', 'invalid-input', 'the two passwords entered do not match');
    return first;
  }
  throw new SluiceError(
    'SIGNING_PASSWORD_MISSING',
    'invalid-input',
    'no signing-key password: set SLUICE_SIGNING_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to be prompted',
  );
}

/** Reads one line with echo off, handling backspace, Ctrl-C and Ctrl-D. */
function readHidden(input: PromptInput, output: Writable, prompt: string): Promise<string> {
  output.write(prompt);
  const wasRaw = input.isRaw ?? false;
  input.setRawMode?.(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const done = (err?: SluiceError) => {
      input.removeListener('data', onData);
      input.setRawMode?.(wasRaw);
      input.pause();
      output.write('\n');
      const value = chars.join('');
      chars = [];
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003')
          return done(new SluiceError('SIGNING_PASSWORD_ABORTED', 'invalid-input', 'password prompt interrupted'));
        if (ch === '\u0004') {
          if (chars.length === 0)
            return done(
              new SluiceError('SIGNING_PASSWORD_ABORTED', 'invalid-input', 'password prompt closed (end of input)'),
            );
          continue;
        }
        if (ch === '\u007f' || ch === '\b') {
          chars.pop();
          continue;
        }
        chars.push(ch);
      }
    };
    input.on('data', onData);
  });
}
