/**
 * Shell completion scripts (bash, zsh, fish) generated from the commands' own metadata: their
 * ids, summaries, flags (long and short names, whether they take a value, a fixed list of values)
 * and whether their arguments are files. Pure: a spec in, the script's text out; the `completion`
 * command builds the spec from oclif's loaded commands.
 */

export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish'];

export interface CompletionFlag {
  name: string;
  char?: string;
  /** Takes a value (`--output DIR`) rather than being a switch. */
  takesValue: boolean;
  /** The values it accepts, when they are a fixed list. */
  options?: readonly string[];
  /** A switch with a `--no-` form. */
  allowNo?: boolean;
  multiple?: boolean;
  summary: string;
}

export interface CompletionCommand {
  id: string;
  summary: string;
  flags: readonly CompletionFlag[];
  /** Positional arguments complete as file names (a .torrent, a path). */
  fileArgs: boolean;
  /** Or as one of these words (an argument with a fixed list, as `completion`'s shell). */
  argValues?: readonly string[];
}

export interface CompletionSpec {
  bin: string;
  commands: readonly CompletionCommand[];
}

export function completionScript(shell: Shell, spec: CompletionSpec): string {
  switch (shell) {
    case 'bash':
      return bashScript(spec);
    case 'zsh':
      return zshScript(spec);
    case 'fish':
      return fishScript(spec);
  }
}

/** The words a flag is typed as: `--name`, `-c`, and `--no-name` for a negatable switch. */
function flagWords(f: CompletionFlag): string[] {
  return [`--${f.name}`, ...(f.char ? [`-${f.char}`] : []), ...(f.allowNo ? [`--no-${f.name}`] : [])];
}

/** A shell function name from the binary's name (`btkit` → `_btkit`). */
function fnName(bin: string): string {
  return `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Text inside single quotes in bash, zsh and fish alike (`'` closes, escapes, reopens). */
function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** One line of help text: the first sentence, without the characters completion menus mangle. */
function oneLine(text: string): string {
  const line = text.split('\n')[0]!.replace(/`/g, '').trim();
  const sentence = /^(.*?[.!?])(\s|$)/.exec(line)?.[1] ?? line;
  return sentence.length > 80 ? `${sentence.slice(0, 77)}...` : sentence;
}

function bashScript(spec: CompletionSpec): string {
  const fn = fnName(spec.bin);
  const ids = spec.commands.map((c) => c.id).join(' ');
  const cases = spec.commands.map((c) => {
    const valueWords = c.flags.filter((f) => f.takesValue && !f.options).flatMap(flagWords);
    const optionCases = c.flags
      .filter((f) => f.takesValue && f.options)
      .map((f) => `        ${flagWords(f).join('|')}) COMPREPLY=( $(compgen -W ${sq(f.options!.join(' '))} -- "$cur") ); return ;;`);
    return [
      `    ${c.id})`,
      '      case "$prev" in',
      ...optionCases,
      ...(valueWords.length > 0 ? [`        ${valueWords.join('|')}) return ;;`] : []),
      '      esac',
      `      words_=${sq(c.flags.flatMap(flagWords).join(' '))}`,
      ...(c.argValues ? [`      args_=${sq(c.argValues.join(' '))}`] : []),
      `      ${c.fileArgs ? '' : 'no_files=1; '};;`,
    ].join('\n');
  });
  return `# bash completion for ${spec.bin}, generated from its commands (\`${spec.bin} completion bash\`).
# Load it with: source <(${spec.bin} completion bash)
${fn}() {
  local cur prev words_ args_ no_files
  COMPREPLY=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=( $(compgen -W ${sq(ids)} -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$words_" -- "$cur") )
  elif [[ -n "$args_" ]]; then
    COMPREPLY=( $(compgen -W "$args_" -- "$cur") )
  elif [[ -n "$no_files" ]]; then
    COMPREPLY=()
  fi
  # An empty reply for a file argument or a flag's value falls back to file names (-o default).
}
complete -o bashdefault -o default -F ${fn} ${spec.bin}
`;
}

/** An _arguments description: `[`, `]`, `:` and `\` are special there. */
function zshDesc(text: string): string {
  return oneLine(text).replace(/[\\[\]:]/g, (ch) => `\\${ch}`);
}

function zshFlagSpecs(f: CompletionFlag): string[] {
  const desc = `[${zshDesc(f.summary)}]`;
  const value = f.takesValue ? `:${f.name}:${f.options ? `(${f.options.join(' ')})` : '_files'}` : '';
  const rep = f.multiple ? '*' : '';
  const specs = [`${rep}--${f.name}${f.takesValue ? '=' : ''}${desc}${value}`];
  if (f.char) specs.push(`${rep}-${f.char}${f.takesValue ? '+' : ''}${desc}${value}`);
  if (f.allowNo) specs.push(`--no-${f.name}[${zshDesc(`Turn off --${f.name}.`)}]`);
  return specs;
}

function zshScript(spec: CompletionSpec): string {
  const fn = fnName(spec.bin);
  const described = spec.commands.map((c) => `    ${sq(`${c.id}:${oneLine(c.summary).replace(/:/g, '\\:')}`)}`);
  const cases = spec.commands.map((c) => {
    const specs = c.flags.flatMap(zshFlagSpecs).map((s) => `        ${sq(s)} \\`);
    return [`    ${c.id})`, '      _arguments -S \\', ...specs, `        ${sq(c.argValues ? `1:${c.id}:(${c.argValues.join(' ')})` : c.fileArgs ? '*:file:_files' : '*: :')}`, '      ;;'].join('\n');
  });
  return `#compdef ${spec.bin}
# zsh completion for ${spec.bin}, generated from its commands (\`${spec.bin} completion zsh\`).
# Load it with: source <(${spec.bin} completion zsh)  (after compinit), or save it as _${spec.bin} in $fpath.
${fn}() {
  local -a commands
  commands=(
${described.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${spec.bin}
fi
`;
}

function fishScript(spec: CompletionSpec): string {
  const b = spec.bin;
  const ids = spec.commands.map((c) => c.id).join(' ');
  const lines = [
    `# fish completion for ${b}, generated from its commands (\`${b} completion fish\`).`,
    `# Load it with: ${b} completion fish | source  (or save it as ~/.config/fish/completions/${b}.fish)`,
    `complete -c ${b} -f`,
    ...spec.commands.map((c) => `complete -c ${b} -n ${sq(`not __fish_seen_subcommand_from ${ids}`)} -a ${sq(c.id)} -d ${sq(oneLine(c.summary))}`),
  ];
  for (const c of spec.commands) {
    const when = `-n ${sq(`__fish_seen_subcommand_from ${c.id}`)}`;
    if (c.argValues) lines.push(`complete -c ${b} ${when} -a ${sq(c.argValues.join(' '))}`);
    else if (c.fileArgs) lines.push(`complete -c ${b} ${when} -F`);
    for (const f of c.flags) {
      const names = `-l ${f.name}${f.char ? ` -s ${f.char}` : ''}`;
      const value = !f.takesValue ? '' : f.options ? ` -x -a ${sq(f.options.join(' '))}` : ' -r -F';
      lines.push(`complete -c ${b} ${when} ${names}${value} -d ${sq(oneLine(f.summary))}`);
      if (f.allowNo) lines.push(`complete -c ${b} ${when} -l no-${f.name} -d ${sq(`Turn off --${f.name}.`)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
