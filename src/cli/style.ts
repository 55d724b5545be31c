/**
 * Terminal styling: colour only on a TTY and only when NO_COLOR (no-color.org) is unset or empty
 * and FORCE_COLOR does not say otherwise.
 */
export class Style {
  constructor(readonly enabled: boolean) {}

  static forStream(stream: { isTTY?: boolean }): Style {
    const env = process.env;
    if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return new Style(false);
    if (env.FORCE_COLOR !== undefined) return new Style(env.FORCE_COLOR !== '0');
    return new Style(Boolean(stream.isTTY) && env.TERM !== 'dumb');
  }

  private wrap(open: number, close: number, text: string): string {
    return this.enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  }

  bold = (t: string) => this.wrap(1, 22, t);
  dim = (t: string) => this.wrap(2, 22, t);
  red = (t: string) => this.wrap(31, 39, t);
  green = (t: string) => this.wrap(32, 39, t);
  yellow = (t: string) => this.wrap(33, 39, t);
  cyan = (t: string) => this.wrap(36, 39, t);
}
