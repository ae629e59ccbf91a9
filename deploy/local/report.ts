/** Output helpers of the demo: plain-text tables and a progress line on stderr. */

/** A left-aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** One progress line, rewritten in place on a terminal, one line per step otherwise. */
export class Progress {
  private readonly out: NodeJS.WriteStream;
  private shown = false;

  constructor(out: NodeJS.WriteStream) {
    this.out = out;
  }

  step(phase: string, what: string): void {
    const text = `[${phase}] ${what}…`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
      this.shown = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  done(): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}
