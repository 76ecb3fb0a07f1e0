// The conformance suite against a KoruClient connected to a real server process (a
// fresh one on a fresh data directory per test).
import { afterAll, expect } from 'vitest';
import { KoruClient } from '@koru/client';
import { conformance, type KoruApi } from './conformance.js';
import { startServer, stopAllServers } from './support.js';

afterAll(stopAllServers);

conformance('KoruClient ↔ koru-server', async () => {
  const server = await startServer();
  const client = await KoruClient.connect(server.url);
  // Type-level conformance: the client has the embedded handle's signatures.
  const db: KoruApi = client;
  return {
    db,
    dispose: async () => {
      await client.close();
      expect(await server.stop('SIGTERM')).toBe(0);
    },
  };
});
