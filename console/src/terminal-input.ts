// Typing into an interactive execution: keys go straight to a PTY; a pipe gets whole lines, edited and echoed locally.
import type { Connection } from './connection.js';

/** What the keyboard writes to: the execution's stdin, and the terminal for local echo. */
export interface InputTarget {
  id: string;
  /** A PTY echoes and edits itself; a pipe needs the page to do both. */
  pty: boolean;
}

/**
 * Turns xterm key data into write_stdin calls, in order (one at a time). For pipes the line is held until
 * Enter, so Backspace works and the command sees what a terminal's line discipline would give it;
 * Ctrl-D sends the line and closes stdin, Ctrl-C sends SIGINT to the command.
 */
export class TerminalInput {
  private line = '';
  private chain: Promise<void> = Promise.resolve();
  target: InputTarget | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly echo: (text: string) => void,
    private readonly afterWrite: () => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** A new execution (or none): any half-typed line is dropped. */
  setTarget(target: InputTarget | undefined): void {
    if (target?.id !== this.target?.id) this.line = '';
    this.target = target;
  }

  handle(data: string): void {
    const target = this.target;
    if (!target) return;
    if (target.pty) return this.send(target.id, { data });
    for (const ch of data) {
      if (ch === '\r' || ch === '\n') {
        this.echo('\r\n');
        this.send(target.id, { data: `${this.line}\n` });
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length > 0) {
          this.line = [...this.line].slice(0, -1).join('');
          this.echo('\b \b');
        }
      } else if (ch === '\x04') {
        this.send(target.id, { data: this.line, eof: true });
        this.line = '';
      } else if (ch === '\x03') {
        this.echo('^C\r\n');
        this.line = '';
        this.chain = this.chain.then(() =>
          this.connection
            .call('control', { id: target.id, action: 'signal', signal: 'SIGINT' })
            .then(() => undefined)
            .catch((e: unknown) => this.onError(String(e))),
        );
      } else if (ch >= ' ' || ch === '\t') {
        this.line += ch;
        this.echo(ch);
      }
      // Other control keys (arrows, escape sequences) mean nothing to a pipe: dropped.
    }
  }

  private send(id: string, args: { data: string; eof?: boolean }): void {
    this.chain = this.chain.then(async () => {
      try {
        // waitMs 0: the reply is not needed, the terminal view follows the output anyway.
        await this.connection.call('write_stdin', { id, ...args, waitMs: 0 });
      } catch (e) {
        this.onError(e instanceof Error ? e.message : String(e));
      }
      this.afterWrite();
    });
  }
}
