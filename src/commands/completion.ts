import { Args } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base-command.js';
import { type CompletionCommand, type Shell, SHELLS, completionScript } from '../cli/completion.js';

export interface CompletionResult {
  shell: Shell;
  script: string;
}

/** Metadata of a loaded command, as much of it as completion reads. */
interface LoadedCommand {
  id: string;
  hidden?: boolean;
  summary?: string;
  description?: string;
  flags: Record<string, { name: string; char?: string; type: 'boolean' | 'option'; options?: readonly string[]; allowNo?: boolean; multiple?: boolean; hidden?: boolean; summary?: string; description?: string }>;
  args: Record<string, { description?: string; options?: readonly string[] }>;
}

export default class Completion extends BaseCommand<CompletionResult> {
  static override summary = 'Print a shell completion script (bash, zsh or fish).';
  static override description = `The script completes the command names, each command's flags (long and short, \`--no-\` forms, the values of flags that take one of a list) and file names where a command takes a file or a path. It is generated from the commands themselves, so it always matches this version of btkit.

Load it in the running shell, or install it where the shell looks for completions:
  bash: \`source <(btkit completion bash)\`, or save it in ~/.local/share/bash-completion/completions/btkit
  zsh:  \`source <(btkit completion zsh)\` after compinit, or save it as _btkit in a directory of $fpath
  fish: \`btkit completion fish | source\`, or save it as ~/.config/fish/completions/btkit.fish`;
  static override examples = [
    { command: 'source <(<%= config.bin %> <%= command.id %> bash)', description: 'Completion in this bash session.' },
    { command: '<%= config.bin %> <%= command.id %> fish > ~/.config/fish/completions/btkit.fish', description: 'Install it for fish.' },
  ];
  static override args = {
    shell: Args.string({ required: true, options: [...SHELLS], description: 'The shell: bash, zsh or fish.' }),
  };

  async run(): Promise<CompletionResult> {
    const { args } = await this.parse(Completion);
    const shell = args.shell as Shell;
    const commands = (this.config.commands as unknown as LoadedCommand[])
      .filter((c) => !c.hidden)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(completionCommand);
    const script = completionScript(shell, { bin: this.config.bin, commands });
    if (!this.jsonEnabled()) process.stdout.write(script);
    return { shell, script };
  }
}

/** oclif's command metadata → what the generator needs (hidden flags left out). */
function completionCommand(c: LoadedCommand): CompletionCommand {
  return {
    id: c.id,
    summary: c.summary ?? c.description ?? '',
    flags: Object.values(c.flags)
      .filter((f) => !f.hidden)
      .map((f) => ({
        name: f.name,
        ...(f.char ? { char: f.char } : {}),
        takesValue: f.type === 'option',
        ...(f.options ? { options: f.options } : {}),
        ...(f.allowNo ? { allowNo: true } : {}),
        ...(f.multiple ? { multiple: true } : {}),
        summary: f.summary ?? f.description ?? '',
      })),
    // An argument described as a file, a directory or a path completes as file names.
    fileArgs: Object.values(c.args).some((a) => /file|director|path/i.test(a.description ?? '')),
    ...(Object.values(c.args)[0]?.options ? { argValues: Object.values(c.args)[0]!.options! } : {}),
  };
}
