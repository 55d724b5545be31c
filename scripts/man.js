#!/usr/bin/env node
// Generates man/btkit.1 and man/btkit-<command>.1 from the oclif manifest (the commands' own
// summary, description, flags and examples) and the exit-code table in dist/cli/exit-codes.js.
// Never edit man/ by hand. `--check` exits 1 when a page on disk differs from what would be
// generated (CI runs it, so stale pages fail the build).
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { EXIT_CODES } = await import(join(root, 'dist/cli/exit-codes.js'));
const bin = pkg.oclif.bin;
// package.json's releaseDate (not today) keeps the pages reproducible: no churn on every build.
const header = (name, section = '1') => `.TH ${name.toUpperCase()} ${section} ${pkg.releaseDate} "${bin} ${pkg.version}" "btkit manual"`;

/** Escape text for roff: backslashes, leading dots/quotes, hyphens in options. */
function esc(text) {
  return String(text)
    .replace(/\\/g, '\\e')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}
/** Prose: escaped, with markdown's `code` spans in bold (roff shows backticks literally). */
const prose = (text) => esc(text).replace(/`([^`\n]+)`/g, '\\fB$1\\fR');
const para = (text) => prose(text).split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean).join('\n.PP\n');
const fill = (s, cmd) => s.replaceAll('<%= config.bin %>', bin).replaceAll('<%= command.id %>', cmd.id);

function flagLine(name, f) {
  const short = f.char ? `\\fB\\-${f.char}\\fR, ` : '';
  const value = f.type === 'option' ? ` \\fI${(f.helpValue ?? name).toString().toUpperCase()}\\fR` : '';
  // The manifest holds a default as help shows it (a duration flag's defaultHelp: `5s`, not 5000).
  const dflt = f.type === 'option' && f.default !== undefined && f.default !== '' ? ` Default: ${prose(String(f.default))}.` : '';
  const negate = f.allowNo && !(f.description ?? '').includes(`--no-${name}`) ? ` \\fB\\-\\-no\\-${name}\\fR turns it off.` : '';
  return `.TP\n${short}\\fB\\-\\-${name}\\fR${value}\n${prose(f.description ?? f.summary ?? '')}${f.multiple ? ' May be repeated.' : ''}${f.options ? ` One of: ${f.options.join(', ')}.` : ''}${dflt}${negate}`;
}

function exitSection() {
  return ['.SH EXIT STATUS', ...EXIT_CODES.map((r) => `.TP\n.B ${r.code}\n${esc(r.meaning)}`)].join('\n');
}

const envSection = `.SH ENVIRONMENT
.TP
.B NO_COLOR
When set to a non-empty value, no colour is used (https://no-color.org).
.TP
.B BTKIT_DEBUG
When set, an internal error also prints its stack trace.`;

function commandPage(cmd) {
  const args = Object.values(cmd.args ?? {});
  const synopsis = [`\\fB${bin} ${cmd.id}\\fR`, ...args.map((a) => (a.required ? `\\fI${a.name}\\fR` : `[\\fI${a.name}\\fR]`)), '[\\fIOPTIONS\\fR]'].join(' ');
  const flags = Object.entries(cmd.flags ?? {}).filter(([, f]) => !f.hidden).sort(([a], [b]) => a.localeCompare(b));
  const examples = (cmd.examples ?? []).map((e) => (typeof e === 'string' ? { command: e } : e));
  return [
    header(`${bin}-${cmd.id}`),
    '.SH NAME',
    `${bin}\\-${cmd.id} \\- ${prose(cmd.summary ?? '')}`,
    '.SH SYNOPSIS',
    synopsis,
    '.SH DESCRIPTION',
    para(cmd.description ?? cmd.summary ?? ''),
    ...(args.length ? ['.SH ARGUMENTS', ...args.map((a) => `.TP\n.I ${a.name}\n${prose(a.description ?? '')}`)] : []),
    '.SH OPTIONS',
    ...flags.map(([name, f]) => flagLine(name, f)),
    ...(examples.length
      ? ['.SH EXAMPLES', ...examples.map((e, i) => `${i > 0 ? '.PP\n' : ''}${e.description ? `${esc(e.description)}\n` : ''}.RS\n.nf\n${esc(fill(e.command, cmd))}\n.fi\n.RE`)]
      : []),
    exitSection(),
    envSection,
    '.SH SEE ALSO',
    `\\fB${bin}\\fR(1)`,
    '',
  ].join('\n');
}

function mainPage(cmds) {
  return [
    header(bin),
    '.SH NAME',
    `${bin} \\- ${esc(pkg.description)}`,
    '.SH SYNOPSIS',
    `\\fB${bin}\\fR \\fICOMMAND\\fR [\\fIARGS\\fR] [\\fIOPTIONS\\fR]`,
    '.SH DESCRIPTION',
    para(`${bin} is one binary of single-purpose commands over one BitTorrent core. Every command takes --json, which prints one JSON document on stdout: {"ok": true, "command", "result", "warnings"} on success, {"ok": false, "command", "error": {"code", "category", "message", "exitCode"}} on failure. Streaming commands print NDJSON events. Data goes to stdout; progress bars (only on a terminal) and diagnostics go to stderr.`),
    '.SH COMMANDS',
    ...cmds.map((c) => `.TP\n\\fB${bin} ${c.id}\\fR\n${prose(c.summary ?? '')} See \\fB${bin}\\-${c.id}\\fR(1).`),
    exitSection(),
    envSection,
    '.SH SEE ALSO',
    cmds.map((c) => `\\fB${bin}\\-${c.id}\\fR(1)`).join(', '),
    '',
  ].join('\n');
}

const cmds = Object.values(manifest.commands).sort((a, b) => a.id.localeCompare(b.id));
const pages = new Map([[`${bin}.1`, mainPage(cmds)], ...cmds.map((c) => [`${bin}-${c.id}.1`, commandPage(c)])]);
const dir = join(root, 'man');
mkdirSync(dir, { recursive: true });
const existing = readdirSync(dir).filter((f) => f.endsWith('.1'));
// package.json's "man" must list every page, or `man btkit-create` fails after a global install.
const listed = JSON.stringify([...(pkg.man ?? [])].sort());
const wanted = JSON.stringify([...pages.keys()].map((n) => `./man/${n}`).sort());
if (listed !== wanted) {
  // A warning when building (a new command's page is written first), a failure under --check.
  console.error(`man: package.json "man" must list every page: "man": ${wanted}`);
  if (check) process.exit(1);
}
if (check) {
  const stale = [...pages].filter(([name, text]) => {
    try {
      return readFileSync(join(dir, name), 'utf8') !== text;
    } catch {
      return true;
    }
  }).map(([n]) => n);
  const extra = existing.filter((f) => !pages.has(f));
  if (stale.length || extra.length) {
    console.error(`man: stale pages: ${[...stale, ...extra].join(', ')} (run npm run build and commit man/)`);
    process.exit(1);
  }
  console.error(`man: ${pages.size} pages up to date`);
} else {
  for (const f of existing) if (!pages.has(f)) rmSync(join(dir, f));
  for (const [name, text] of pages) writeFileSync(join(dir, name), text);
  console.error(`man: wrote ${pages.size} pages`);
}
