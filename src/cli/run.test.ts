import { describe, expect, it } from 'vitest';
import { InvalidDocumentError } from '../util/errors.js';
import { COMMAND_USAGE, errorLines, run, USAGE } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const { out, err } = captureOutput();

const commands = Object.keys(COMMAND_USAGE) as (keyof typeof COMMAND_USAGE)[];

describe('placement-webhook COMMAND --help', () => {
  it.each(commands.flatMap((command) => ['--help', '-h'].map((flag) => ({ command, flag }))))(
    '$command $flag prints its usage on stdout, exit 0',
    async ({ command, flag }) => {
      expect(await run([command, flag])).toBe(0);
      expect(out.join('')).toBe(`${COMMAND_USAGE[command]}\n`);
      expect(out.join('')).toMatch(new RegExp(`^Usage: placement-webhook ${command} `));
      expect(err.join('')).toBe('');
    },
  );

  it('--help among other flags still answers with the usage, and nothing runs', async () => {
    expect(await run(['certs', '--out', '/proc/never-created', '--help'])).toBe(0);
    expect(out.join('')).toBe(`${COMMAND_USAGE.certs}\n`);
  });

  it('after --, -h is a file name, not a flag', async () => {
    expect(await run(['lint', '--', '-h'])).toBe(2);
    expect(err.join('')).toBe("error: cannot read -h: ENOENT: no such file or directory, open '-h'\n");
  }, 30_000); // the first run of lint loads the rules schema

  it('help COMMAND is the same as COMMAND --help; help alone is the overview', async () => {
    expect(await run(['help', 'check'])).toBe(0);
    expect(await run(['help'])).toBe(0);
    expect(out).toEqual([`${COMMAND_USAGE.check}\n`, `${USAGE}\n`]);
  });
});

describe('placement-webhook: usage errors are exit 2 with one line', () => {
  it.each([
    { name: 'no command', argv: [], want: undefined },
    {
      name: 'an unknown command',
      argv: ['deploy'],
      want: 'error: unknown command "deploy"; commands: serve, check, replay, lint, certs, templates, audit, whatif, convert; see \'placement-webhook --help\'',
    },
    {
      name: 'an unknown flag',
      argv: ['check', '--verbose', 'pod.yaml'],
      want: "error: unknown flag --verbose; see 'placement-webhook check --help'",
    },
    {
      name: 'a flag without its value',
      argv: ['check', 'pod.yaml', '--rules'],
      want: "error: Option '--rules <value>' argument missing; see 'placement-webhook check --help'",
    },
  ])('$name', async ({ argv, want }) => {
    expect(await run(argv)).toBe(2);
    if (want === undefined) expect(err.join('')).toBe(`${USAGE}\n`);
    else expect(err.join('')).toBe(`${want}\n`);
  });

  it('an invalid document is one line per problem, each naming the file', () => {
    const e = new InvalidDocumentError('rules.yaml', [
      { type: 'Invalid', path: 'rules[0].name', detail: 'invalid value "A"' },
      { type: 'Invalid', path: '', detail: 'YAML line 3, column 1: bad indentation' },
    ]);
    expect(errorLines(e)).toEqual([
      'error: rules.yaml: rules[0].name: invalid value "A"',
      'error: rules.yaml: YAML line 3, column 1: bad indentation',
    ]);
  });
});
