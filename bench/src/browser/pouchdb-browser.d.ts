/**
 * The part of pouchdb-browser's API the browser bench calls (the package ships no types;
 * @types/pouchdb-browser would pull in a dozen more packages for four methods).
 */
declare module 'pouchdb-browser' {
  interface PutResult {
    readonly ok: boolean;
    readonly id: string;
    readonly rev: string;
  }
  interface PouchError {
    readonly error: true;
    readonly id?: string;
    readonly status?: number;
    readonly message?: string;
  }
  class PouchDB {
    constructor(name: string);
    static readonly version: string;
    put(doc: { _id: string; _rev?: string } & object): Promise<PutResult>;
    bulkDocs(docs: readonly ({ _id: string; _rev?: string } & object)[]): Promise<(PutResult | PouchError)[]>;
    get(id: string): Promise<{ _id: string; _rev: string } & Record<string, unknown>>;
    close(): Promise<void>;
  }
  export default PouchDB;
}
