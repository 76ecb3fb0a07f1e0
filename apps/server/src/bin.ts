// koru-server: the server's own executable (`kdelta start` does the same).
import { parseArgs } from 'node:util';
import { serve } from './serve.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'db-path': { type: 'string', short: 'd' },
    token: { type: 'string' },
    insecure: { type: 'boolean' },
  },
});
process.exitCode = await serve({
  ...(values.port !== undefined ? { port: Number(values.port) } : {}),
  ...(values.host !== undefined ? { host: values.host } : {}),
  ...(values['db-path'] !== undefined ? { path: values['db-path'] } : {}),
  ...(values.token !== undefined ? { token: values.token } : {}),
  ...(values.insecure === true ? { insecure: true } : {}),
});
