// Generates TypeScript for proto/*.proto with ts-proto, offline: protoc comes
// from the `protoc` npm package, the plugin from `ts-proto`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const protoc = path.join(path.dirname(require.resolve('protoc/package.json')), 'protoc.cjs');
const plugin = path.join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto');
const out = path.join(root, 'src', 'oracle', 'generated');
mkdirSync(out, { recursive: true });
const protos = readdirSync(path.join(root, 'proto')).filter((f) => f.endsWith('.proto'));
execFileSync(process.execPath, [
  protoc,
  `--plugin=protoc-gen-ts_proto=${plugin}`,
  `--ts_proto_out=${out}`,
  '--ts_proto_opt=outputServices=nice-grpc,outputServices=generic-definitions,useExactTypes=false,esModuleInterop=true,importSuffix=.js,forceLong=bigint,env=node',
  `--proto_path=${path.join(root, 'proto')}`,
  ...protos,
], { stdio: 'inherit' });
