export const help = `usage: percolator bench [options]
(not implemented yet)`;
export async function run(_argv: string[]): Promise<number> {
  console.error('percolator bench: not implemented yet');
  return 1;
}
