// Which words of the bin's argv make a client command, options before the subcommand included.
import { describe, expect, it } from 'vitest';
import { clientInvocation } from '../../src/cli/commands.js';

describe('clientInvocation', () => {
  it('finds the subcommand first or after client options, which move after it', () => {
    expect(clientInvocation(['run', '--', 'ls'])).toEqual({ command: 'run', args: ['--', 'ls'] });
    expect(clientInvocation(['--cwd', '/tmp', 'run', 'ls'])).toEqual({ command: 'run', args: ['--cwd', '/tmp', 'ls'] });
    expect(clientInvocation(['--json', 'status', 'abcd'])).toEqual({ command: 'status', args: ['--json', 'abcd'] });
    expect(clientInvocation(['--url=ws://x', '-t', 'run', 'bash'])).toEqual({ command: 'run', args: ['--url=ws://x', '-t', 'bash'] });
  });

  it('leaves server invocations alone, also when an option value is a subcommand word', () => {
    expect(clientInvocation([])).toBeUndefined();
    expect(clientInvocation(['--port', '8003'])).toBeUndefined();
    expect(clientInvocation(['serve', '--stdio'])).toBeUndefined();
    expect(clientInvocation(['--data-dir', 'run'])).toBeUndefined();
    expect(clientInvocation(['--stdio', '--', 'run'])).toBeUndefined();
  });
});
