/** Subject modules are imported on demand. */
import type { Subject, SubjectId } from './subject.js';

/** Loads a subject's module only when it is selected, so a missing build breaks only its own column. */
export async function loadSubject(id: SubjectId): Promise<Subject> {
  switch (id) {
    case 'koru':
      return (await import('./subjects/koru.js')).koruSubject;
    case 'sqlite':
      return (await import('./subjects/sqlite.js')).sqliteSubject;
    case 'map':
      return (await import('./subjects/map.js')).mapSubject;
    case 'loki':
      return (await import('./subjects/loki.js')).lokiSubject;
  }
}
