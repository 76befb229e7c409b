import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A subcommand's arguments (node's parseArgs), or undefined after telling
 * the user what is wrong on stderr: `percolator <command>: <problem>`, then
 * `explain` (the help text, or where to find it). The caller exits 2.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T, explain: string): ReturnType<typeof parseArgs<T>> | undefined {
  try {
    return parseArgs(config);
  } catch (error) {
    console.error(`percolator ${command}: ${(error as Error).message}\n${explain}`);
    return undefined;
  }
}
