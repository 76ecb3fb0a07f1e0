// The conformance suite against the embedded handle: the reference behaviour.
import { KoruDelta } from '@koru/delta';
import { conformance } from './conformance.js';

conformance('embedded KoruDelta (in memory)', async () => {
  const db = await KoruDelta.start();
  return { db, dispose: () => db.close() };
});
