/**
 * Creating directories and writing files for the CLI, with failures as one-line `UsageError`s (exit 2) that name
 * the path and what the system said.
 *
 * Directories are created one level at a time, never with Node's `mkdir(dir, { recursive: true })`: that call never
 * returns for a path under `/proc` (it spins at full CPU). procfs answers `ENOENT` for a new entry in a directory
 * that exists; the recursive loop takes `ENOENT` to mean "the parent is missing", creates the parent (`EEXIST`, fine)
 * and tries the child again, forever. Here each missing directory is created once, parents first, and any failure is
 * final.
 */
import { lstat, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from './inputs.js';

const errorCode = (err: unknown): string | undefined =>
  err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;

/** `EACCES: permission denied`: the system's words without the call and path Node appends. */
export function systemMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '[^']*'( -> '[^']*')?$/, '');
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * `mkdir -p dir`, failing fast: a path under a regular file, a directory that cannot hold children (`/proc`), no
 * permission. `what` names the flag in the message (`--out`).
 */
export async function makeDirectory(dir: string, what: string): Promise<void> {
  const target = resolve(dir);
  const fail = (path: string, why: string) => new UsageError(`${what}: cannot create directory ${dir}: ${path === target ? '' : `${path}: `}${why}`);
  const chain: string[] = [];
  for (let cur = target; ; cur = dirname(cur)) {
    chain.push(cur);
    if (dirname(cur) === cur) break;
  }
  for (const path of chain.reverse()) {
    let st;
    try {
      st = await statOrUndefined(path);
    } catch (err) {
      throw fail(path, systemMessage(err));
    }
    if (st?.isDirectory()) continue;
    if (st) throw fail(path, path === target ? 'a file of that name exists' : 'not a directory');
    try {
      await mkdir(path);
    } catch (err) {
      // Created meanwhile by someone else is fine; anything else (a dangling symbolic link, procfs) is final.
      const code = errorCode(err);
      if (code === 'EEXIST' && (await statOrUndefined(path).catch(() => undefined))?.isDirectory()) continue;
      // The parent is a directory (just checked), so ENOENT means it cannot hold new entries (procfs, sysfs).
      const dangling = code === 'EEXIST' && (await lstat(path).catch(() => undefined))?.isSymbolicLink();
      const why =
        code === 'ENOENT'
          ? `${systemMessage(err)} (its parent directory cannot hold new entries)`
          : dangling
            ? 'a symbolic link to something that does not exist'
            : systemMessage(err);
      throw fail(path, why);
    }
  }
}

/** Writes `content` to `file` (with `mode` when given), or throws a `UsageError` naming the file. */
export async function writeOutput(file: string, content: string, mode?: number): Promise<void> {
  try {
    await writeFile(file, content, mode === undefined ? {} : { mode });
  } catch (err) {
    throw new UsageError(`cannot write ${file}: ${systemMessage(err)}`);
  }
}
