/**
 * Reading a password: the first line of a pipe or file (readFirstLine), or typed at a terminal
 * without echo (promptHidden: readline over the TTY with its output muted while typing).
 * Guarantees: the line terminator (\n or \r\n) is removed and nothing else; Ctrl-C while
 * prompting rejects with CliExit(130) instead of hanging; the input is paused afterwards.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CliExit, EXIT_FAILURE, EXIT_INTERRUPTED } from './command.js';
import type { InputStream, OutputStream } from './io.js';

/** Longer input without a newline is not a password; stop reading rather than buffer it all. */
export const MAX_PASSWORD_LINE_CHARS = 64 * 1024;

/** The first line of `input` (up to EOF when there is no newline), terminator removed. */
export function readFirstLine(input: InputStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let text = '';
    const cleanup = () => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
    };
    const finish = (line: string) => {
      cleanup();
      resolve(line.replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      text += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      const newline = text.indexOf('\n');
      if (newline >= 0) finish(text.slice(0, newline));
      else if (text.length > MAX_PASSWORD_LINE_CHARS) {
        cleanup();
        reject(
          new CliExit(
            EXIT_FAILURE,
            'HERALD_INPUT_INVALID',
            `password line longer than ${MAX_PASSWORD_LINE_CHARS} characters`,
          ),
        );
      }
    };
    const onEnd = () => finish(text + decoder.end());
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
}

/** Asks each prompt in turn on `output` (stderr), reading the answers from a TTY without echo. */
export async function promptHidden(
  input: InputStream,
  output: OutputStream,
  prompts: string[],
): Promise<string[]> {
  let muted = false;
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!muted) output.write(chunk.toString());
      callback();
    },
  });
  const rl = createInterface({ input, output: sink, terminal: true });
  const answers: string[] = [];
  try {
    for (const prompt of prompts) {
      muted = false;
      output.write(prompt);
      muted = true;
      try {
        answers.push(await ask(rl));
      } finally {
        output.write('\n');
      }
    }
  } finally {
    rl.close();
    input.pause();
  }
  return answers;
}

function ask(rl: ReturnType<typeof createInterface>): Promise<string> {
  return new Promise((resolve, reject) => {
    const onInterrupt = () => {
      rl.off('close', onInterrupt);
      reject(new CliExit(EXIT_INTERRUPTED, 'HERALD_INTERRUPTED', 'interrupted'));
    };
    rl.once('SIGINT', onInterrupt);
    rl.once('close', onInterrupt);
    rl.question('', (answer) => {
      rl.off('SIGINT', onInterrupt);
      rl.off('close', onInterrupt);
      resolve(answer);
    });
  });
}
