/**
 * `percolator bench`: the benchmark (bench/), and `percolator bench oracle`:
 * the oracle's own benchmark (bench/oracle/). Both, help texts included,
 * load on demand: nothing here imports bench/ statically.
 */
import { InvalidInputError, PercolatorError } from '../errors.js';
import { redactCommandLine } from '../redact.js';

/** `bench --help` and `bench oracle --help` answer with their own texts, loaded with them. */
export const handlesOwnHelp = true;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'oracle') {
    const oracleBench = await import('../../bench/oracle/oracle-bench.js');
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(oracleBench.help);
      return 0;
    }
    return oracleBench.run(argv.slice(1));
  }
  const { parseBenchArgs, wantsHelp, help } = await import('../../bench/bench-options.js');
  if (wantsHelp(argv)) {
    console.log(help);
    return 0;
  }
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (error instanceof InvalidInputError) {
      console.error(`percolator bench: ${error.message}\nRun \`percolator bench --help\` for the options.`);
      return 2;
    }
    throw error;
  }
  const { runBench } = await import('../../bench/run-bench.js');
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: stopping the clients and removing the throwaway servers...\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const report = await runBench(options, {
      stdout: process.stdout,
      stderr: process.stderr,
      signal: interrupt.signal,
      // Recorded in the JSON and the HTML report: passwords in URLs stay out.
      command: redactCommandLine(['percolator', 'bench', ...argv]),
    });
    if (interrupt.signal.aborted) return 130;
    return report.results.some((r) => r.error) ? 1 : 0;
  } catch (error) {
    if (error instanceof PercolatorError) {
      console.error(`percolator bench: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
