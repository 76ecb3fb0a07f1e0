/**
 * A stored index or view definition that could not be loaded. Definitions live in the
 * store's reserved namespace; one that no longer parses (written by an older version, or
 * by an import before imports were checked) must not stop the database from opening, so
 * it is skipped, reported here, and can still be removed (`dropIndex` / `deleteView`).
 */
export interface DefinitionProblem {
  /** Which kind of definition. */
  readonly kind: 'index' | 'view';
  /** The record's key in the reserved namespace (`view:<name>`, `index:<namespace>:<field>`). */
  readonly key: string;
  /** The view's name, or `<namespace>:<field>` of the index: what to drop. */
  readonly name: string;
  /** What is wrong, and that it was skipped. */
  readonly message: string;
}

/** The problem for a definition record that failed its check with `e`. */
export function problemOf(kind: DefinitionProblem['kind'], key: string, name: string, e: unknown): DefinitionProblem {
  const why = e instanceof Error ? e.message : String(e);
  return Object.freeze({ kind, key, name, message: `the ${kind} definition ${JSON.stringify(name)} cannot be loaded: ${why}` });
}
