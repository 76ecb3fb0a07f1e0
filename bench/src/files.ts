/** Sizes and fingerprints of data directories. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface FileInfo {
  readonly path: string;
  readonly size: number;
  readonly allocated: number;
}

async function walk(dir: string, visit: (file: FileInfo) => void): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, visit);
    else if (entry.isFile()) {
      const st = await stat(path);
      visit({ path, size: st.size, allocated: st.blocks * 512 });
    }
  }
}

/** Bytes under `dir`: apparent file sizes, and blocks actually allocated (differs for preallocated or sparse files). */
export async function dirUsage(dir: string): Promise<{ bytes: number; allocated: number; files: number }> {
  let bytes = 0;
  let allocated = 0;
  let files = 0;
  await walk(dir, (file) => {
    bytes += file.size;
    allocated += file.allocated;
    files++;
  });
  return { bytes, allocated, files };
}

/** Sorted `path:size` list; equal fingerprints mean no file was added, removed or resized. */
export async function dirFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  await walk(dir, (file) => parts.push(`${file.path.slice(dir.length)}:${file.size}`));
  return parts.sort().join('\n');
}

/** "1 file", "3 files". */
export function files(count: number): string {
  return `${count} file${count === 1 ? '' : 's'}`;
}
