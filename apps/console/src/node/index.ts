/**
 * Where the built console is: a directory of static files (`index.html` and hashed
 * `assets/`), each compressible one beside its `.br` and `.gz` copies. `@koru/server`
 * serves it at `/`; the console itself runs in the browser and talks to the server only
 * through `@koru/client`.
 */
import { fileURLToPath } from 'node:url';

/** The absolute path of the built console's directory (ends without a slash). */
export function consoleAssetsDir(): string {
  return fileURLToPath(new URL('./app', import.meta.url));
}
