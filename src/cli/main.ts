/**
 * `percolator` command line: one module per subcommand, loaded on demand so
 * that `--help` is instant. Every subcommand exports
 * `run(argv): Promise<number>` (the exit code) and either `help: string`
 * (main answers `--help` with it) or `handlesOwnHelp = true` (a command with
 * subcommands of its own, whose help is loaded with them).
 */
export type SubcommandModule = { run(argv: string[]): Promise<number> } & ({ help: string; handlesOwnHelp?: false } | { handlesOwnHelp: true });

export interface Subcommand {
  summary: string;
  load(): Promise<SubcommandModule>;
}

const subcommands: Record<string, Subcommand> = {
  oracle: { summary: 'run a timestamp oracle server (leader or standby)', load: () => import('./oracle-command.js') },
  bench: { summary: 'benchmark percolator against one Postgres and Postgres 2PC', load: () => import('./bench-command.js') },
  migrate: { summary: 'create or upgrade the storage of a schema module on every shard (deploy scripts)', load: () => import('./migrate-command.js') },
  shards: { summary: "add, remove and rebalance shards; show the placement map and what each shard holds", load: () => import('./shards-command.js') },
  up: { summary: 'start throwaway shards and an oracle to try the library on (until Ctrl-C)', load: () => import('./up-command.js') },
};

export const usage = `usage: percolator <command> [options]

commands:
${Object.entries(subcommands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run \`percolator <command> --help\` for a command's options.
Logs: structured JSON on stderr; set PERCOLATOR_LOG_LEVEL=info|debug for more.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name === undefined ? 2 : 0;
  }
  const command = subcommands[name];
  if (!command) {
    console.error(`percolator: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  const mod = await command.load();
  // A command with subcommands of its own (bench oracle) answers --help itself.
  if (!mod.handlesOwnHelp && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(mod.help);
    return 0;
  }
  return mod.run(rest);
}
