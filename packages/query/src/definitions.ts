/**
 * The check of a record of the store's reserved namespace handed in from outside (an
 * import of a whole-database export): only index and view definitions exist there, and
 * each must pass the check its kind gets when created, so an import can never store a
 * definition that would fail to load.
 */
import { InvalidArgumentError } from '@koru/engine';
import { checkIndexRecord } from './indexes.js';
import { checkViewRecord } from './views.js';

/**
 * Checks one record of the reserved namespace: `view:<name>` or `index:<ns>:<field>` with
 * a definition that loads; a tombstone (`value` undefined) needs only a known key form.
 * @throws INVALID_ARGUMENT, INVALID_NAMESPACE, INVALID_QUERY naming what is wrong
 */
export function checkDefinitionRecord(key: string, value: unknown, deleted: boolean): void {
  if (key.startsWith('view:')) {
    if (!deleted) checkViewRecord(key, value);
  } else if (key.startsWith('index:')) {
    if (!deleted) checkIndexRecord(key, value);
  } else throw new InvalidArgumentError(`${JSON.stringify(key)} is not an index or view definition`);
}
