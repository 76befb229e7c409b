// A process that owns one throwaway Postgres server, for harness tests that
// need a real parent to kill: `node server-host.mjs [packageRoot] [settingsJson]`.
// Prints one JSON line { url, port, dataDir, pid } once the server is up (pid:
// the postmaster's), then keeps it until killed. Runs the compiled harness (dist/).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = process.argv[2] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const settings = process.argv[3] ? JSON.parse(process.argv[3]) : undefined;
const { PostgresServer } = await import(pathToFileURL(path.join(root, 'dist/src/harness/postgres-server.js')).href);
try {
  const server = await PostgresServer.create({ unsafeFast: true, settings });
  process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port, dataDir: server.dataDir, pid: server.pid })}\n`);
  setInterval(() => {}, 60_000);
} catch (error) {
  process.stderr.write(`server-host: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
