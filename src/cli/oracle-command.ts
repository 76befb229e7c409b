export const help = `usage: percolator oracle --meta <postgres-url> [--listen 127.0.0.1:7070]
(not implemented yet)`;
export async function run(_argv: string[]): Promise<number> {
  console.error('percolator oracle: not implemented yet');
  return 1;
}
