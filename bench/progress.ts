/**
 * One live progress line on stderr: the phase, its detail and the time since the start, rewritten
 * in place on a terminal (four times a second); elsewhere (a log file, CI) one line per phase.
 */
export class Progress {
  private phase = '';

  /** The phase now under way (the last `step`). */
  get current(): string {
    return this.phase;
  }
  private detail = '';
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly tty = process.stderr.isTTY === true;

  constructor() {
    if (this.tty) {
      this.timer = setInterval(() => this.render(), 250);
      this.timer.unref();
    }
  }

  /** Starts a phase (printed at once). */
  step(phase: string, detail = ''): void {
    this.phase = phase;
    this.detail = detail;
    if (this.tty) this.render();
    else process.stderr.write(`[bench ${this.clock()}] ${phase}${detail ? ` — ${detail}` : ''}\n`);
  }

  /** Updates the detail of the current phase (shown on a terminal only). */
  update(detail: string): void {
    this.detail = detail;
  }

  /** A line that stays (a result, a warning), printed above the progress line. */
  note(line: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${line}\n`);
    if (this.tty) this.render();
  }

  /** Clears the line and stops updating. */
  done(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stderr.write('\r\x1b[2K');
  }

  private clock(): string {
    const s = Math.floor((Date.now() - this.started) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  private render(): void {
    // A terminal without a size reports 0 columns.
    const width = process.stderr.columns || 120;
    const line = `[bench ${this.clock()}] ${this.phase}${this.detail ? ` — ${this.detail}` : ''}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
  }
}
